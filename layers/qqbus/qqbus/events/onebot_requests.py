"""Requests the bot can approve or refuse: friends, and joining or invitations to groups."""

from typing import Literal

from pydantic import Field

from qqbus.events.onebot_envelope import OneBotEvent, register
from qqbus.events.types import EventTime, Int64


@register
class RequestEvent(OneBotEvent):
    """A request the bot can approve or refuse with its ``flag``."""

    time: EventTime
    post_type: Literal["request"]
    request_type: str


@register
class FriendRequest(RequestEvent):
    """Someone asked to become the bot's friend."""

    request_type: Literal["friend"]
    user_id: Int64
    comment: str = ""
    flag: str


@register
class GroupRequest(RequestEvent):
    """Someone asked to join a group (``add``), or the bot was invited into one (``invite``)."""

    request_type: Literal["group"]
    sub_type: str = Field(examples=["add", "invite"])
    group_id: Int64
    user_id: Int64
    comment: str = ""
    flag: str
