"""notice.friend_recall: a friend recalled a private message; logged and counted."""

from qqbus.events.onebot import FriendRecall
from qqbus.handler import Delivered, handler
from qqbus.observability import note


@handler(FriendRecall, once=False)
def lambda_handler(ev: Delivered[FriendRecall], context: object) -> None:
    e = ev.payload
    note("friend message recalled", user_id=e.user_id, message_id=e.message_id)
