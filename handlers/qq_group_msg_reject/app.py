"""GROUP_MSG_REJECT: the group refuses proactive messages; forget the event id to cite."""

from qqbus.events.qq import GroupMsgReject
from qqbus.handler import Delivered, handler
from qqbus.state import Written, groups


@handler(GroupMsgReject, once=False)
def lambda_handler(ev: Delivered[GroupMsgReject], context: object) -> Written | None:
    d, event_id = ev.payload.d, ev.payload.id
    store = groups()
    return store.write(  # one conditional write for both (each keeps its own clock)
        ev.bot_id,
        d.group_openid,
        "qq",
        store.proactive(False, at=d.timestamp, by=d.op_member_openid, tiebreak=event_id),
        store.reply_event(None, at=d.timestamp, tiebreak=event_id),
    )
