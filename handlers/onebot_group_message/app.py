"""message.group: a OneBot group message, as segments. Commands answer; add yours."""

from qqbus.events.onebot import GroupMessage
from qqbus.example_commands import commands
from qqbus.handler import Delivered, handler
from qqbus.observability import logger, note


@handler(GroupMessage, once=False)
def lambda_handler(ev: Delivered[GroupMessage], context: object) -> dict:
    m = ev.payload
    segments = [s.model_dump() for s in m.message]
    mentioned = m.to_me
    note(
        "group message",
        alone=False,  # a line only with what it led to (a command, a conversation turn)
        group_id=m.group_id,
        user_id=m.user_id,
        message_id=m.message_id,
        mentions_bot=mentioned,
    )
    logger.debug("group message content", extra={"segments": segments, "text": m.plain_text})
    commands.handle(ev)
    return {"segments": segments, "mentions_bot": mentioned}
