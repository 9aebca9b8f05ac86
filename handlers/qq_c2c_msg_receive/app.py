"""C2C_MSG_RECEIVE: the user accepts proactive C2C messages; this event id is the one to cite."""

from qqbus.events.qq import C2CMsgReceive
from qqbus.routing import Delivered, handler
from qqbus.state import users


@handler(C2CMsgReceive)
def lambda_handler(ev: Delivered[C2CMsgReceive], context: object) -> None:
    d = ev.payload.d
    store = users()
    store.set_proactive(ev.bot_id, d.openid, accepts=True, at=d.timestamp, tiebreak=ev.event_id)
    store.set_reply_event(ev.bot_id, d.openid, event_id=ev.payload.id, at=d.timestamp, tiebreak=ev.event_id)
