"""FRIEND_DEL: a user removed the bot: friend = false, nothing left to cite."""

from qqbus.events.qq import FriendDel
from qqbus.routing import Delivered, handler
from qqbus.state import users


@handler(FriendDel)
def lambda_handler(ev: Delivered[FriendDel], context: object) -> None:
    d = ev.payload.d
    store = users()
    store.set_friend(ev.bot_id, d.openid, protocol="qq", friend=False, at=d.timestamp, tiebreak=ev.event_id)
    store.set_reply_event(ev.bot_id, d.openid, event_id=None, at=d.timestamp, tiebreak=ev.event_id)
