"""C2C_MSG_REJECT: the user refuses proactive C2C messages; forget the event id to cite."""

from qqbus.events.qq import C2CMsgReject
from qqbus.handler import Delivered, handler
from qqbus.state import users


@handler(C2CMsgReject)
def lambda_handler(ev: Delivered[C2CMsgReject], context: object) -> None:
    d = ev.payload.d
    store = users()
    store.write(  # one conditional write for both (each keeps its own clock)
        ev.bot_id,
        d.openid,
        "qq",
        store.proactive(False, at=d.timestamp, tiebreak=ev.event_id),
        store.reply_event(None, at=d.timestamp, tiebreak=ev.event_id),
    )
