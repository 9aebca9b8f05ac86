"""The OneBot v11 base event, the registry of event models, and how an event's type is read.

Field names are the wire names. Following the OneBot v11 spec (and OneBot-YaYa, where
"先驱暂时不实现" marks fields an implementation may leave out), such fields are optional, every
``sender`` field is best effort, and fields an implementation adds (``message_seq``,
``real_id``, ``group_name``, ...) are kept, never rejected. Ids are signed 64-bit integers
(``Int64``: no bools, no fractions), and the event models require a plausible ``time``
(``EventTime``); a payload that fails those parses to the base model and its handler reports it.

The event models live in modules by kind (``onebot_messages``, ``onebot_group_notices``,
``onebot_user_notices``, ``onebot_notify``, ``onebot_requests``, ``onebot_meta``), so a function
builds only those it uses; ``qqbus.events.onebot`` names them all. Like the QQ ones, these modules
leave out ``from __future__ import annotations`` (pydantic would evaluate every annotation string).
"""

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from qqbus.events.chat import Chat, str_or_none
from qqbus.events.registry import ModelRegistry
from qqbus.events.types import EventTime, Int64

SOURCE = "onebot.v11"

#: The field that names an event's type, by post_type.
TYPE_FIELDS = ("message_type", "notice_type", "request_type", "meta_event_type")

#: The longest mute QQ allows (30 days); a longer ``duration`` is not a real ban.
MAX_MUTE_SECONDS = 30 * 24 * 3600


class Wire(BaseModel):
    """Every OneBot model: fields an implementation adds are kept, built on first use."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class OneBotEvent(Wire):
    """Any OneBot v11 event; unknown types parse to this base and still reach the bus."""

    protocol: ClassVar[Literal["onebot"]] = "onebot"

    time: Int64 = Field(description="When the event happened (Unix seconds); as sent, unchecked")
    self_id: Int64 = Field(description="QQ number of the bot that received the event")
    post_type: str = Field(examples=["message", "notice", "request", "meta_event"])

    def chat(self) -> Chat | None:
        """The group (with the member) or the user the event is about: its ``group_id`` and
        ``user_id``, declared by its model or sent as extra fields; None when it names neither."""
        group_id, user_id = getattr(self, "group_id", None), getattr(self, "user_id", None)
        if group_id is None and user_id is None:
            return None
        return Chat("onebot", str_or_none(group_id), str_or_none(user_id), time=self.time)

    @property
    def detail_type(self) -> str:
        """``<post_type>.<type>``: the EventBridge detail-type of this event."""
        return detail_type_of(self.model_dump(include={"post_type", *TYPE_FIELDS}))


onebot_models: ModelRegistry[OneBotEvent] = ModelRegistry(
    OneBotEvent,
    (("post_type",), TYPE_FIELDS, ("sub_type",)),
)
register = onebot_models.register


def type_name_of(payload: dict[str, Any]) -> str | None:
    """The event's second-level type: the first non-empty ``TYPE_FIELDS`` value."""
    for field in TYPE_FIELDS:
        value = payload.get(field)
        if value and isinstance(value, str):
            return value
    return None


def classify(payload: dict[str, Any]) -> tuple[str, str | None]:
    """``(detail-type, type name)`` of a raw OneBot payload: ``post_type`` then its type, dotted.

    Raises
    ------
    ValueError
        When ``post_type`` is missing or not a non-empty string.
    """
    post_type = payload.get("post_type")
    if not post_type or not isinstance(post_type, str):
        raise ValueError("not a OneBot event: 'post_type' is missing or not a string")
    type_name = type_name_of(payload)
    return (f"{post_type}.{type_name}" if type_name else post_type), type_name


def detail_type_of(payload: dict[str, Any]) -> str:
    """The detail-type of a raw OneBot payload (see ``classify``)."""
    return classify(payload)[0]


@register
class NoticeEvent(OneBotEvent):
    """A notice: something happened in a group or to a friend."""

    time: EventTime
    post_type: Literal["notice"]
    notice_type: str
