"""notice.friend_add: someone became the bot's friend; logged and counted."""

from qqbus.events.onebot import FriendAdd
from qqbus.observability import logger
from qqbus.routing import Delivered, handler


@handler(FriendAdd)
def lambda_handler(ev: Delivered[FriendAdd], context: object) -> None:
    logger.info("friend added", extra={"user_id": ev.payload.user_id})
