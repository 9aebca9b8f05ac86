"""C2C_MSG_REJECT: the user refuses proactive C2C messages; forget the event id to cite."""

from qqbus.events.qq import C2CMsgReject
from qqbus.handler import Delivered, handler
from qqbus.state import Written, users


@handler(C2CMsgReject, once=False)
def lambda_handler(ev: Delivered[C2CMsgReject], context: object) -> Written | None:
    d = ev.payload.d
    store = users()
    return store.write(  # one conditional write for both (each keeps its own clock)
        ev.bot_id,
        d.openid,
        "qq",
        store.proactive(False, at=d.timestamp, tiebreak=ev.event_id),
        store.reply_event(None, at=d.timestamp, tiebreak=ev.event_id),
    )
