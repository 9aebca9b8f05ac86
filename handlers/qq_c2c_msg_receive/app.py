"""C2C_MSG_RECEIVE: the user accepts proactive C2C messages; this event id is the one to cite."""

from qqbus.events.qq import C2CMsgReceive
from qqbus.handler import Delivered, handler
from qqbus.state import Written, users


@handler(C2CMsgReceive, once=False)
def lambda_handler(ev: Delivered[C2CMsgReceive], context: object) -> Written | None:
    d = ev.payload.d
    store = users()
    return store.write(  # one conditional write for both (each keeps its own clock)
        ev.bot_id,
        d.openid,
        "qq",
        store.proactive(True, at=d.timestamp, tiebreak=ev.event_id),
        store.reply_event(ev.payload.id, at=d.timestamp, tiebreak=ev.event_id),
    )
