"""GROUP_DEL_ROBOT: the bot left a QQ group; the row is kept with member = false."""

from qqbus.events.qq import GroupDelRobot
from qqbus.handler import Delivered, handler
from qqbus.state import Written, groups


@handler(GroupDelRobot, once=False)
def lambda_handler(ev: Delivered[GroupDelRobot], context: object) -> Written | None:
    d = ev.payload.d
    store = groups()
    return store.write(
        ev.bot_id,
        d.group_openid,
        "qq",
        store.member(False, at=d.timestamp, by=d.op_member_openid, tiebreak=ev.payload.id),
    )
