"""message.private: a private message, as segments. Add your bot's replies here."""

from qqbus.events.onebot import PrivateMessage
from qqbus.observability import logger
from qqbus.routing import Delivered, handler


@handler(PrivateMessage)
def lambda_handler(ev: Delivered[PrivateMessage], context: object) -> dict:
    m = ev.payload
    segments = [s.model_dump() for s in m.message]
    logger.info(
        "private message",
        extra={
            "user_id": m.user_id,
            "sub_type": m.sub_type,
            "message_id": m.message_id,
            "segments": segments,
            "text": m.plain_text,
        },
    )
    return {"segments": segments}
