"""notice.friend_add: someone became the bot's friend: the users table says so."""

from qqbus.events.onebot import FriendAdd
from qqbus.handler import Delivered, handler
from qqbus.observability import logger
from qqbus.state import users


@handler(FriendAdd)
def lambda_handler(ev: Delivered[FriendAdd], context: object) -> None:
    e = ev.payload
    logger.info("friend added", extra={"user_id": e.user_id})
    store = users()
    store.write(ev.bot_id, str(e.user_id), "onebot", store.friend(True, at=e.time, tiebreak=ev.event_id))
