"""request.friend: someone asks to be the bot's friend; the template's policy answers."""

from qqbus.events.onebot import FriendRequest
from qqbus.handler import Delivered, handler
from qqbus.observability import note
from qqbus.request_policy import decide_from_env


@handler(FriendRequest, once=False)
def lambda_handler(ev: Delivered[FriendRequest], context: object) -> None:
    e = ev.payload
    approve = decide_from_env("QQBUS_FRIEND_REQUEST_POLICY", e.comment)
    note("friend request", user_id=e.user_id, approve=approve)
    if approve is not None:
        ev.call("set_friend_add_request", flag=e.flag, approve=approve)
