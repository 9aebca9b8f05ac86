"""message.private: a OneBot private message, as segments. Commands answer; add yours."""

from qqbus.events.onebot import PrivateMessage
from qqbus.example_commands import commands
from qqbus.handler import Delivered, handler
from qqbus.observability import logger, note


@handler(PrivateMessage, once=False)
def lambda_handler(ev: Delivered[PrivateMessage], context: object) -> dict:
    m = ev.payload
    segments = [s.model_dump() for s in m.message]
    note("private message", alone=False, user_id=m.user_id, sub_type=m.sub_type, message_id=m.message_id)
    logger.debug("private message content", extra={"segments": segments, "text": m.plain_text})
    commands.handle(ev)
    return {"segments": segments}
