"""FRIEND_ADD: a user added the bot: friend; its event id is the one to cite."""

from qqbus.events.qq import FriendAdd
from qqbus.routing import Delivered, handler
from qqbus.state import users


@handler(FriendAdd)
def lambda_handler(ev: Delivered[FriendAdd], context: object) -> None:
    d = ev.payload.d
    store = users()
    store.set_friend(ev.bot_id, d.openid, protocol="qq", friend=True, at=d.timestamp, tiebreak=ev.event_id)
    store.set_reply_event(ev.bot_id, d.openid, event_id=ev.payload.id, at=d.timestamp, tiebreak=ev.event_id)
