"""notice.group_ban: the bot's own mute, or a whole-group mute (user_id 0), set or lifted.

The two are kept apart (``scope``): lifting a whole-group mute leaves the bot's own mute.
"""

from typing import Literal

from qqbus.events.onebot import GroupBan
from qqbus.handler import Delivered, handler
from qqbus.state import MUTED_UNTIL_LIFTED, Written, groups


@handler(GroupBan, once=False)
def lambda_handler(ev: Delivered[GroupBan], context: object) -> Written | None:
    e = ev.payload
    scope: Literal["self", "group"]
    if e.user_id == 0:
        scope = "group"
    elif e.user_id == e.self_id:
        scope = "self"
    else:
        return None  # another member's mute: nothing the bot's state depends on
    if e.sub_type == "lift_ban":
        until = None
    elif e.duration > 0:
        until = e.time + e.duration
    else:
        until = MUTED_UNTIL_LIFTED  # only a whole-group mute: the model refuses a self ban without one
    store = groups()
    return store.write(
        ev.bot_id,
        str(e.group_id),
        "onebot",
        store.muted(until, scope=scope, at=e.time, tiebreak=ev.event_id),
    )
