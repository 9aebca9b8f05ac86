"""GROUP_ADD_ROBOT: the bot joined a QQ group; keep the event id to cite when posting there."""

from qqbus.events.qq import GroupAddRobot
from qqbus.routing import Delivered, handler
from qqbus.state import groups


@handler(GroupAddRobot)
def lambda_handler(ev: Delivered[GroupAddRobot], context: object) -> None:
    d, event_id = ev.payload.d, ev.payload.id
    store = groups()
    store.mark_member(
        ev.bot_id,
        d.group_openid,
        protocol="qq",
        member=True,
        at=d.timestamp,
        by=d.op_member_openid,
        tiebreak=event_id,
    )
    store.set_reply_event(ev.bot_id, d.group_openid, event_id=event_id, at=d.timestamp, tiebreak=event_id)
