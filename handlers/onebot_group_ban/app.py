"""notice.group_ban: the bot (or the whole group, user_id 0) muted until a time, or unmuted."""

from qqbus.events.onebot import GroupBan
from qqbus.routing import Delivered, handler
from qqbus.state import MUTED_UNTIL_LIFTED, groups


@handler(GroupBan)
def lambda_handler(ev: Delivered[GroupBan], context: object) -> None:
    e = ev.payload
    if e.user_id not in (0, e.self_id):
        return  # another member's mute: nothing the bot's state depends on
    scope = "group" if e.user_id == 0 else "self"
    if e.sub_type == "lift_ban":
        until = None
    elif e.duration > 0:
        until = e.time + e.duration
    else:
        until = MUTED_UNTIL_LIFTED  # a whole-group mute has no end until it is lifted
    groups().set_muted(ev.bot_id, str(e.group_id), protocol="onebot", until=until, at=e.time, scope=scope)
