"""FRIEND_DEL: a user removed the bot: friend = false, nothing left to cite."""

from qqbus.events.qq import FriendDel
from qqbus.handler import Delivered, handler
from qqbus.state import Written, users


@handler(FriendDel, once=False)
def lambda_handler(ev: Delivered[FriendDel], context: object) -> Written | None:
    d = ev.payload.d
    store = users()
    return store.write(  # one conditional write for both (each keeps its own clock)
        ev.bot_id,
        d.openid,
        "qq",
        store.friend(False, at=d.timestamp, tiebreak=ev.event_id),
        store.reply_event(None, at=d.timestamp, tiebreak=ev.event_id),
    )
