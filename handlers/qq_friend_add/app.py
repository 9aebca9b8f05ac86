"""FRIEND_ADD: a user added the bot: friend; its event id is the one to cite."""

from qqbus.events.qq import FriendAdd
from qqbus.handler import Delivered, handler
from qqbus.state import Written, users


@handler(FriendAdd, once=False)
def lambda_handler(ev: Delivered[FriendAdd], context: object) -> Written | None:
    d = ev.payload.d
    store = users()
    return store.write(  # one conditional write for both (each keeps its own clock)
        ev.bot_id,
        d.openid,
        "qq",
        store.friend(True, at=d.timestamp, tiebreak=ev.event_id),
        store.reply_event(ev.payload.id, at=d.timestamp, tiebreak=ev.event_id),
    )
