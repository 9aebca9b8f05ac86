"""GROUP_MSG_RECEIVE: the group accepts proactive messages; this event id is the one to cite."""

from qqbus.events.qq import GroupMsgReceive
from qqbus.handler import Delivered, handler
from qqbus.state import Written, groups


@handler(GroupMsgReceive, once=False)
def lambda_handler(ev: Delivered[GroupMsgReceive], context: object) -> Written | None:
    d, event_id = ev.payload.d, ev.payload.id
    store = groups()
    return store.write(  # one conditional write for both (each keeps its own clock)
        ev.bot_id,
        d.group_openid,
        "qq",
        store.proactive(True, at=d.timestamp, by=d.op_member_openid, tiebreak=event_id),
        store.reply_event(event_id, at=d.timestamp, tiebreak=event_id),
    )
