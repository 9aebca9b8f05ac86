"""GROUP_AT_MESSAGE_CREATE: a group member @-mentioned the bot. Commands answer; add yours."""

from qqbus.events.qq import GroupAtMessageCreate
from qqbus.example_commands import commands
from qqbus.handler import Delivered, handler
from qqbus.observability import logger


@handler(GroupAtMessageCreate, once=False)
def lambda_handler(ev: Delivered[GroupAtMessageCreate], context: object) -> None:
    d = ev.payload.d
    logger.info("group @-message", extra={"group_openid": d.group_openid, "attachments": len(d.attachments)})
    logger.debug("group @-message text", extra={"text": d.text})  # content only at DEBUG
    commands.handle(ev)
