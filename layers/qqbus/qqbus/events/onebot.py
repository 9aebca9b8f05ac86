"""OneBot v11 events, one pydantic class per event.

Field names are the wire names. Following the OneBot v11 spec (and OneBot-YaYa, where
"先驱暂时不实现" marks fields an implementation may leave out), such fields are optional, every
``sender`` field is best effort, and fields an implementation adds (``message_seq``,
``real_id``, ``group_name``, ...) are kept, never rejected. Ids are signed 64-bit integers
(``Int64``: no bools, no fractions), and the event models require a plausible ``time``
(``EventTime``); a payload that fails those parses to the base model and its handler reports it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qqbus.events.chat import Chat, Piece, str_or_none
from qqbus.events.message import Message, plain_text
from qqbus.events.registry import ModelRegistry
from qqbus.events.types import EventTime, Int64

SOURCE = "onebot.v11"

#: The field that names an event's type, by post_type.
TYPE_FIELDS = ("message_type", "notice_type", "request_type", "meta_event_type")

#: The longest mute QQ allows (30 days); a longer ``duration`` is not a real ban.
MAX_MUTE_SECONDS = 30 * 24 * 3600


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class OneBotEvent(_Wire):
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


# --- messages ---------------------------------------------------------------------------


class Sender(_Wire):
    """Who sent a message; every field is best effort and may be stale or absent."""

    user_id: Int64 | None = None
    nickname: str | None = None
    sex: str | None = Field(default=None, examples=["male", "female", "unknown"])
    age: int | None = None


class GroupSender(Sender):
    """A group message's sender, with the member's card, role and title when known."""

    card: str | None = None
    area: str | None = None
    level: str | None = None
    role: str | None = Field(default=None, examples=["owner", "admin", "member"])
    title: str | None = None


class Anonymous(_Wire):
    """The anonymous identity of a group message sent anonymously."""

    id: Int64 | None = None
    name: str | None = None
    flag: str | None = None


@register
class MessageEvent(OneBotEvent):
    """A message the bot received."""

    time: EventTime
    post_type: Literal["message"]
    message_type: str
    sub_type: str
    message_id: Int64 | None = None
    user_id: Int64
    message: Message = Field(description="Segments, from a CQ-code string or a segment array")
    raw_message: str = ""
    font: int | None = None

    @property
    def plain_text(self) -> str:
        return plain_text(self.message)

    def chat(self) -> Chat | None:
        group_id = getattr(self, "group_id", None) if self.message_type != "private" else None
        message_id = str_or_none(self.message_id)
        return Chat("onebot", str_or_none(group_id), str(self.user_id), message_id, time=self.time)

    @property
    def to_me(self) -> bool:
        """A private message, or a message that @-mentions the bot (not @all)."""
        if self.message_type == "private":
            return True
        me = str(self.self_id)
        return any(s.type == "at" and str(s.data.get("qq")) == me for s in self.message)

    def addressed_pieces(self) -> list[Piece]:
        """Text and ``at`` segments after a leading ``reply``, the bot's own ``at`` and blank text;
        other segments (images, faces) are not words and are left out."""
        segments = list(self.message)
        me = str(self.self_id)
        while segments and (
            segments[0].type == "reply"
            or (segments[0].type == "at" and str(segments[0].data.get("qq")) == me)
            or (segments[0].type == "text" and not str(segments[0].data.get("text", "")).strip())
        ):
            segments.pop(0)
        return [
            (str(s.data.get("text" if s.type == "text" else "qq", "")), s.type == "at")
            for s in segments
            if s.type in ("text", "at")
        ]

    @property
    def addressed_text(self) -> str:
        return "".join(text for text, mention in self.addressed_pieces() if not mention).strip()

    @property
    def sender_role(self) -> str | None:
        return None


@register
class PrivateMessage(MessageEvent):
    """A private message: from a friend (``friend``), a group member (``group``) or other."""

    message_type: Literal["private"]
    sender: Sender = Field(default_factory=Sender)


@register
class GroupMessage(MessageEvent):
    """A group message: ``normal``, ``anonymous`` or a system ``notice``."""

    message_type: Literal["group"]
    group_id: Int64
    anonymous: Anonymous | None = None
    sender: GroupSender = Field(default_factory=GroupSender)

    @property
    def sender_role(self) -> str | None:
        """``owner``, ``admin`` or ``member`` as the implementation says (None when anonymous)."""
        role = self.sender.role if self.anonymous is None else None
        return role.lower() if role else None


# --- notices ----------------------------------------------------------------------------


@register
class NoticeEvent(OneBotEvent):
    """A notice: something happened in a group or to a friend."""

    time: EventTime
    post_type: Literal["notice"]
    notice_type: str


class GroupFile(_Wire):
    """A file uploaded to a group."""

    id: str | None = None
    name: str
    size: Int64 | None = None
    busid: Int64 | None = None


@register
class GroupUpload(NoticeEvent):
    """A member uploaded a file to a group."""

    notice_type: Literal["group_upload"]
    group_id: Int64
    user_id: Int64
    file: GroupFile


@register
class GroupAdmin(NoticeEvent):
    """A member became (``set``) or stopped being (``unset``) a group admin."""

    notice_type: Literal["group_admin"]
    sub_type: Literal["set", "unset"]
    group_id: Int64
    user_id: Int64


@register
class GroupDecrease(NoticeEvent):
    """A member left (``leave``), was kicked (``kick``), or the bot itself was (``kick_me``)."""

    notice_type: Literal["group_decrease"]
    sub_type: str = Field(examples=["leave", "kick", "kick_me"])
    group_id: Int64
    operator_id: Int64
    user_id: Int64


@register
class GroupIncrease(NoticeEvent):
    """A member joined a group, approved (``approve``) or invited (``invite``)."""

    notice_type: Literal["group_increase"]
    sub_type: str = Field(examples=["approve", "invite"])
    group_id: Int64
    operator_id: Int64
    user_id: Int64


@register
class GroupBan(NoticeEvent):
    """A member, or the whole group when ``user_id`` is 0, was muted or unmuted."""

    notice_type: Literal["group_ban"]
    sub_type: Literal["ban", "lift_ban"]
    group_id: Int64
    operator_id: Int64
    user_id: Int64
    duration: Annotated[Int64, Field(le=MAX_MUTE_SECONDS)] = Field(
        default=0, description="Seconds; a whole-group mute has none (0 or absent): it lasts until lifted"
    )

    @model_validator(mode="after")
    def _a_mute_of_the_bot_has_a_duration(self) -> GroupBan:
        # Read as "muted until lifted", a missing duration would silence the bot for good.
        if self.sub_type == "ban" and self.user_id == self.self_id and self.duration <= 0:
            raise ValueError(f"a ban of the bot itself needs a positive duration, not {self.duration}")
        return self


@register
class FriendAdd(NoticeEvent):
    """Someone became the bot's friend."""

    notice_type: Literal["friend_add"]
    user_id: Int64


@register
class GroupRecall(NoticeEvent):
    """A group message was recalled, by its sender or an admin."""

    notice_type: Literal["group_recall"]
    group_id: Int64
    user_id: Int64
    operator_id: Int64
    message_id: Int64 | None = None


@register
class FriendRecall(NoticeEvent):
    """A friend recalled a private message."""

    notice_type: Literal["friend_recall"]
    user_id: Int64
    message_id: Int64 | None = None


@register
class Notify(NoticeEvent):
    """A notification (``notify``) whose ``sub_type`` says what: poke, lucky_king, honor, title."""

    notice_type: Literal["notify"]
    sub_type: str = Field(examples=["poke", "lucky_king", "honor", "title"])


@register
class Poke(Notify):
    """Someone poked (戳一戳) the bot or a member, in a group or (no ``group_id``) privately."""

    sub_type: Literal["poke"]
    group_id: Int64 | None = Field(default=None, description="Absent for a private (friend) poke")
    user_id: Int64 = Field(description="Who poked")
    target_id: Int64 = Field(description="Who was poked (the bot: its self_id)")
    sender_id: Int64 | None = Field(default=None, description="Who poked, as some implementations add it")


@register
class LuckyKing(Notify):
    """A group red packet's luckiest receiver (运气王) was decided."""

    sub_type: Literal["lucky_king"]
    group_id: Int64
    user_id: Int64 = Field(description="Who sent the red packet")
    target_id: Int64 = Field(description="The lucky king")


@register
class Honor(Notify):
    """A member got a group honor (群荣誉): dragon king, performer, emotion."""

    sub_type: Literal["honor"]
    group_id: Int64
    user_id: Int64
    honor_type: str = Field(examples=["talkative", "performer", "emotion"])


@register
class Title(Notify):
    """A member got a special title (群头衔; go-cqhttp, NapCat)."""

    sub_type: Literal["title"]
    group_id: Int64
    user_id: Int64
    title: str = ""


@register
class GroupCard(NoticeEvent):
    """A member's group card (群名片) changed (go-cqhttp, NapCat; best effort, may lag)."""

    notice_type: Literal["group_card"]
    group_id: Int64
    user_id: Int64
    card_new: str = ""
    card_old: str = ""


class OfflineFileInfo(_Wire):
    """A file sent to the bot privately."""

    name: str | None = None
    size: Int64 | None = None
    url: str | None = None


@register
class OfflineFile(NoticeEvent):
    """A user sent the bot a file privately (离线文件; go-cqhttp, NapCat)."""

    notice_type: Literal["offline_file"]
    user_id: Int64
    file: OfflineFileInfo = Field(default_factory=OfflineFileInfo)


@register
class ClientStatus(NoticeEvent):
    """Another client of the bot's account went online or offline (go-cqhttp, NapCat)."""

    notice_type: Literal["client_status"]
    client: dict[str, Any] = Field(default_factory=dict, description="app_id, device_name, device_kind")
    online: bool


@register
class Essence(NoticeEvent):
    """A group message was added to (``add``) or removed from (``delete``) the essence list (精华)."""

    notice_type: Literal["essence"]
    sub_type: str = Field(examples=["add", "delete"])
    group_id: Int64
    sender_id: Int64 = Field(description="Who sent the message")
    operator_id: Int64
    message_id: Int64 | None = None


# --- requests ---------------------------------------------------------------------------


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


# --- meta events ------------------------------------------------------------------------


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


def parse_onebot(payload: dict[str, Any]) -> OneBotEvent:
    """The most specific registered model ``payload`` validates against.

    Raises
    ------
    pydantic.ValidationError
        When even the base ``OneBotEvent`` does not fit (no ``time``/``self_id``/``post_type``).
    """
    model, _ = parse_onebot_verbose(payload)
    return model


def parse_onebot_verbose(
    payload: dict[str, Any], type_name: str | None = None
) -> tuple[OneBotEvent, str | None]:
    """Like ``parse_onebot``; also says why a more specific model did not fit, if one did not.

    ``type_name`` is ``type_name_of(payload)`` when the caller has it already.
    """
    post_type = payload.get("post_type")
    type_name = type_name or type_name_of(payload)
    sub_type = payload.get("sub_type")
    if post_type.__class__ is str and type_name is not None and sub_type.__class__ is str:
        key: tuple[str, ...] = (post_type, type_name, sub_type)  # the common case, built directly
    else:
        key = tuple(v for v in (post_type, type_name, sub_type) if isinstance(v, str))
    return onebot_models.parse(key, payload)
