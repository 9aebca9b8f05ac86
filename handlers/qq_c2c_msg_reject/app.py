"""C2C_MSG_REJECT: the user refuses proactive C2C messages; forget the event id to cite."""

from qqbus.events.qq import C2CMsgReject
from qqbus.routing import Delivered, handler
from qqbus.state import users


@handler(C2CMsgReject)
def lambda_handler(ev: Delivered[C2CMsgReject], context: object) -> None:
    d = ev.payload.d
    store = users()
    store.set_proactive(ev.bot_id, d.openid, accepts=False, at=d.timestamp, tiebreak=ev.event_id)
    store.set_reply_event(ev.bot_id, d.openid, event_id=None, at=d.timestamp, tiebreak=ev.event_id)
