"""C2C_MESSAGE_CREATE: a user messaged the bot privately. Commands answer; add yours."""

from qqbus.events.qq import C2CMessageCreate
from qqbus.example_commands import commands
from qqbus.handler import Delivered, handler
from qqbus.observability import logger, note


@handler(C2CMessageCreate, once=False)
def lambda_handler(ev: Delivered[C2CMessageCreate], context: object) -> None:
    d = ev.payload.d
    note("C2C message", alone=False, user_openid=d.author.user_openid, attachments=len(d.attachments) or None)
    logger.debug("C2C message text", extra={"text": d.text})  # content only at DEBUG
    commands.handle(ev)
