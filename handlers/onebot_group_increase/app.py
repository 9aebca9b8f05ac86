"""notice.group_increase: when the bot itself joins a group, it is a member from then on."""

from qqbus.events.onebot import GroupIncrease
from qqbus.handler import Delivered, handler
from qqbus.state import Written, groups


@handler(GroupIncrease, once=False)
def lambda_handler(ev: Delivered[GroupIncrease], context: object) -> Written | None:
    e = ev.payload
    if e.user_id == e.self_id:
        store = groups()
        return store.write(
            ev.bot_id,
            str(e.group_id),
            "onebot",
            store.member(True, at=e.time, by=str(e.operator_id), tiebreak=ev.event_id),
        )
    return None
