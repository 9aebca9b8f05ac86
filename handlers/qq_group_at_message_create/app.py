"""GROUP_AT_MESSAGE_CREATE: a group member @-mentioned the bot. Commands answer; add yours."""

from qqbus.events.qq import GroupAtMessageCreate
from qqbus.example_commands import commands
from qqbus.handler import Delivered, handler
from qqbus.observability import logger, note


@handler(GroupAtMessageCreate, once=False)
def lambda_handler(ev: Delivered[GroupAtMessageCreate], context: object) -> None:
    d = ev.payload.d
    note("group @-message", alone=False, group_openid=d.group_openid, attachments=len(d.attachments) or None)
    logger.debug("group @-message text", extra={"text": d.text})  # content only at DEBUG
    commands.handle(ev)
