"""notice.group_admin: the bot became (set) or stopped being (unset) a group admin."""

from qqbus.events.onebot import GroupAdmin
from qqbus.handler import Delivered, handler
from qqbus.state import Written, groups


@handler(GroupAdmin, once=False)
def lambda_handler(ev: Delivered[GroupAdmin], context: object) -> Written | None:
    e = ev.payload
    if e.user_id == e.self_id:
        store = groups()
        return store.write(
            ev.bot_id,
            str(e.group_id),
            "onebot",
            store.admin(e.sub_type == "set", at=e.time, tiebreak=ev.event_id),
        )
    return None
