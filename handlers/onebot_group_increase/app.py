"""notice.group_increase: when the bot itself joins a group, it is a member from then on."""

from qqbus.events.onebot import GroupIncrease
from qqbus.handler import Delivered, handler
from qqbus.state import groups


@handler(GroupIncrease)
def lambda_handler(ev: Delivered[GroupIncrease], context: object) -> None:
    e = ev.payload
    if e.user_id == e.self_id:
        store = groups()
        store.write(
            ev.bot_id,
            str(e.group_id),
            "onebot",
            store.member(True, at=e.time, by=str(e.operator_id), tiebreak=ev.event_id),
        )
