"""notice.group_decrease: when the bot itself leaves or is kicked (kick_me), it is no member."""

from qqbus.events.onebot import GroupDecrease
from qqbus.handler import Delivered, handler
from qqbus.state import Written, groups


@handler(GroupDecrease, once=False)
def lambda_handler(ev: Delivered[GroupDecrease], context: object) -> Written | None:
    e = ev.payload
    if e.sub_type == "kick_me" or e.user_id == e.self_id:
        store = groups()
        return store.write(
            ev.bot_id,
            str(e.group_id),
            "onebot",
            store.member(False, at=e.time, by=str(e.operator_id), tiebreak=ev.event_id),
        )
    return None
