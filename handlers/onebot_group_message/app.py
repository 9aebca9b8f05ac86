"""message.group: a group message, as segments. Add your bot's replies here."""

from qqbus.events.onebot import GroupMessage
from qqbus.observability import logger
from qqbus.routing import Delivered, handler


@handler(GroupMessage)
def lambda_handler(ev: Delivered[GroupMessage], context: object) -> dict:
    m = ev.payload
    segments = [s.model_dump() for s in m.message]
    mentioned = any(s.type == "at" and str(s.data.get("qq")) in (str(m.self_id), "all") for s in m.message)
    logger.info(
        "group message",
        extra={
            "group_id": m.group_id,
            "user_id": m.user_id,
            "sub_type": m.sub_type,
            "message_id": m.message_id,
            "mentions_bot": mentioned,
            "segments": segments,
            "text": m.plain_text,
        },
    )
    return {"segments": segments, "mentions_bot": mentioned}
