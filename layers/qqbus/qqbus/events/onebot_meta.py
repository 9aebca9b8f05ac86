"""Meta events, about the connection and not about QQ: lifecycle and heartbeats."""

from typing import Any, Literal

from pydantic import Field

from qqbus.events.onebot_envelope import OneBotEvent, register
from qqbus.events.types import EventTime, Int64


@register
class MetaEvent(OneBotEvent):
    """A meta event about the connection, not about QQ."""

    time: EventTime
    post_type: Literal["meta_event"]
    meta_event_type: str


@register
class Lifecycle(MetaEvent):
    """The implementation was enabled, disabled, or (websockets) connected."""

    meta_event_type: Literal["lifecycle"]
    sub_type: str = Field(examples=["enable", "disable", "connect"])


@register
class Heartbeat(MetaEvent):
    """A periodic heartbeat with the implementation's status."""

    meta_event_type: Literal["heartbeat"]
    status: dict[str, Any] = Field(default_factory=dict)
    interval: Int64 | None = Field(default=None, description="Milliseconds to the next heartbeat")
