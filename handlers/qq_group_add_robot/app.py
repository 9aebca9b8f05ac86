"""GROUP_ADD_ROBOT: the bot joined a QQ group; keep the event id to cite when posting there."""

from qqbus.events.qq import GroupAddRobot
from qqbus.handler import Delivered, handler
from qqbus.state import Written, groups


@handler(GroupAddRobot, once=False)
def lambda_handler(ev: Delivered[GroupAddRobot], context: object) -> Written | None:
    d, event_id = ev.payload.d, ev.payload.id
    store = groups()
    return store.write(  # one conditional write for both (each keeps its own clock)
        ev.bot_id,
        d.group_openid,
        "qq",
        store.member(True, at=d.timestamp, by=d.op_member_openid, tiebreak=event_id),
        store.reply_event(event_id, at=d.timestamp, tiebreak=event_id),
    )
