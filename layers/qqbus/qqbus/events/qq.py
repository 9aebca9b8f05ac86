"""QQ official bot platform payloads: the ``{op, s, t, id, d}`` envelope and its events.

Dispatches (op 0) carry the event type in ``t`` and its data in ``d``; over the webhook they
carry no ``s``. Notice events give ``d.timestamp`` as integer seconds, message events as an
RFC 3339 string; both are read as Unix seconds here (``UnixSeconds``: plausible times only).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from qqbus.events.chat import Chat, Piece, qq_pieces
from qqbus.events.registry import ModelRegistry
from qqbus.events.types import UnixSeconds

SOURCE = "qq.official"

#: Intent bit for group and C2C events (GROUP_ADD_ROBOT ... C2C_MSG_RECEIVE).
INTENT_GROUP_AND_C2C_EVENT = 1 << 25
#: Intent bit for INTERACTION_CREATE (a keyboard's callback button was clicked).
INTENT_INTERACTION = 1 << 26
#: Intents by name, for ``QQ_INTENTS`` (the relay's websocket gateway).
INTENTS = {"GROUP_AND_C2C_EVENT": INTENT_GROUP_AND_C2C_EVENT, "INTERACTION": INTENT_INTERACTION}


def parse_intents(text: str, default: int = INTENT_GROUP_AND_C2C_EVENT) -> int:
    """Intents from ``QQ_INTENTS``: a number, or names joined by ``,`` / ``|`` (``GROUP_AND_C2C_EVENT,
    INTERACTION``); ``default`` when empty.

    Raises
    ------
    ValueError
        An unknown name.
    """
    text = text.strip()
    if not text:
        return default
    if text.isdigit():
        return int(text)
    bits = 0
    for name in re.split(r"[,|\s]+", text):
        if name:
            if name.upper() not in INTENTS:
                raise ValueError(f"unknown QQ intent {name!r}: one of {', '.join(INTENTS)} or a number")
            bits |= INTENTS[name.upper()]
    return bits


#: An openid or event id: a non-empty string (never a number read as one); it keys the groups
#: table, where an empty key is refused and an unbounded one wastes the 1 KiB sort key.
Ident = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class QQPayload(_Wire):
    """Any QQ platform payload: ``op`` code, sequence ``s``, type ``t``, event ``id``, data ``d``."""

    protocol: ClassVar[Literal["qq"]] = "qq"

    op: int = Field(description="0 dispatch, 10 hello, 11 heartbeat ACK, 13 URL validation, ...")
    s: int | None = Field(default=None, description="Sequence number (websocket only)")
    t: str | None = Field(default=None, examples=["GROUP_ADD_ROBOT"])
    id: str | None = Field(default=None, description="Event id, cited when replying")
    d: Any = None

    def chat(self) -> Chat | None:
        """The group or user of this event (None for a type without a modelled ``d``)."""
        return self.d.chat_of(self.id) if isinstance(self.d, ChatData) else None


class ChatData(_Wire):
    """Event data that names a group or a user."""

    def chat_of(self, event_id: str | None) -> Chat:
        raise NotImplementedError


class QQDispatch(QQPayload):
    """An op 0 dispatch: an event of type ``t``."""

    op: Literal[0]
    t: str


qq_models: ModelRegistry[QQDispatch] = ModelRegistry(QQDispatch, (("t",),))
register = qq_models.register


class GroupRobotData(ChatData):
    """What the four group-robot events carry: the group, who acted, and when."""

    group_openid: Ident = Field(description="The group's openid for this bot")
    op_member_openid: Ident = Field(description="openid of the member who acted")
    timestamp: UnixSeconds = Field(description="When it happened (Unix seconds)")

    def chat_of(self, event_id: str | None) -> Chat:
        return Chat("qq", self.group_openid, None, event_id=event_id, time=self.timestamp)


@register
class GroupAddRobot(QQDispatch):
    """The bot was added to a group; its id may be cited to post into the group."""

    t: Literal["GROUP_ADD_ROBOT"]
    id: Ident
    d: GroupRobotData


@register
class GroupDelRobot(QQDispatch):
    """The bot was removed from a group."""

    t: Literal["GROUP_DEL_ROBOT"]
    id: Ident
    d: GroupRobotData


@register
class GroupMsgReject(QQDispatch):
    """A group admin turned off the bot's proactive messages."""

    t: Literal["GROUP_MSG_REJECT"]
    id: Ident
    d: GroupRobotData


@register
class GroupMsgReceive(QQDispatch):
    """A group admin turned on the bot's proactive messages; its id may be cited to post."""

    t: Literal["GROUP_MSG_RECEIVE"]
    id: Ident
    d: GroupRobotData


class UserRobotData(ChatData):
    """What the four user events carry: the user's openid for this bot, and when."""

    openid: Ident = Field(description="The user's openid for this bot")
    timestamp: UnixSeconds = Field(description="When it happened (Unix seconds)")

    def chat_of(self, event_id: str | None) -> Chat:
        return Chat("qq", None, self.openid, event_id=event_id, time=self.timestamp)


@register
class FriendAdd(QQDispatch):
    """A user added the bot (as a friend); its id may be cited to message the user."""

    t: Literal["FRIEND_ADD"]
    id: Ident
    d: UserRobotData


@register
class FriendDel(QQDispatch):
    """A user removed the bot."""

    t: Literal["FRIEND_DEL"]
    id: Ident
    d: UserRobotData


@register
class C2CMsgReject(QQDispatch):
    """A user turned off the bot's proactive C2C messages."""

    t: Literal["C2C_MSG_REJECT"]
    id: Ident
    d: UserRobotData


@register
class C2CMsgReceive(QQDispatch):
    """A user turned on the bot's proactive C2C messages; its id may be cited to message them."""

    t: Literal["C2C_MSG_RECEIVE"]
    id: Ident
    d: UserRobotData


class GroupAuthor(_Wire):
    """Who sent a group message (openids are per bot)."""

    member_openid: str
    union_openid: str | None = None


class C2CAuthor(_Wire):
    """Who sent a C2C (private) message."""

    user_openid: str
    union_openid: str | None = None


class Attachment(_Wire):
    """A file sent with a message; every field is what the platform chose to send."""

    content_type: str | None = Field(default=None, examples=["image/jpeg", "file", "voice"])
    filename: str | None = None
    url: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None


class Mention(_Wire):
    """Someone @-mentioned in a group message; ``is_you`` marks the bot itself."""

    id: str | None = None
    member_openid: str | None = None
    is_you: bool | None = None
    bot: bool | None = None


#: A ``<@openid>`` / ``<@!openid>`` mention inside ``content``.
_MENTION = re.compile(r"<@!?([^<>\s]+)>")


class MessageData(ChatData):
    """What a message event carries: its id (cited to reply passively), text, time, files."""

    id: str = Field(description="Message id, cited as msg_id in a passive reply")
    content: str = ""
    timestamp: UnixSeconds
    attachments: list[Attachment] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """``content`` without surrounding spaces."""
        return self.content.strip()


class GroupMessageData(MessageData):
    group_openid: str
    author: GroupAuthor
    mentions: list[Mention] = Field(default_factory=list)

    def chat_of(self, event_id: str | None) -> Chat:
        return Chat(
            "qq", self.group_openid, self.author.member_openid, self.id, event_id, time=self.timestamp
        )

    @property
    def text(self) -> str:
        """``content`` without the bot's own leading @-mention (QQ leaves a space, or ``<@id>``)."""
        content = self.content.lstrip()
        own = {m.member_openid or m.id for m in self.mentions if m.is_you or m.bot} - {None}
        found = _MENTION.match(content)
        if found and (not own or found.group(1) in own):
            content = content[found.end() :]
        return content.strip()


class C2CMessageData(MessageData):
    author: C2CAuthor

    def chat_of(self, event_id: str | None) -> Chat:
        return Chat("qq", None, self.author.user_openid, self.id, event_id, time=self.timestamp)


class QQMessage(QQDispatch):
    """A message to the bot: QQ delivers only group @-messages and C2C messages, so it is to me."""

    d: MessageData

    @property
    def to_me(self) -> bool:
        return True

    def addressed_pieces(self) -> list[Piece]:
        return qq_pieces(self.d.text)

    @property
    def addressed_text(self) -> str:
        """``d.text``: the content without the bot's own mention (other mentions stay as ``<@id>``)."""
        return self.d.text

    @property
    def sender_role(self) -> str | None:
        return None  # QQ messages carry no role


@register
class GroupAtMessageCreate(QQMessage):
    """A group member @-mentioned the bot; answer passively (cite ``d.id``) within 5 minutes."""

    t: Literal["GROUP_AT_MESSAGE_CREATE"]
    d: GroupMessageData


@register
class C2CMessageCreate(QQMessage):
    """A user sent the bot a private (C2C) message; answer passively within 60 minutes."""

    t: Literal["C2C_MESSAGE_CREATE"]
    d: C2CMessageData


class InteractionResolved(_Wire):
    """What was clicked: the button's id and ``button_data`` (its ``action.data``), and where."""

    button_data: str | None = Field(default=None, description="The clicked button's action.data")
    button_id: str | None = None
    user_id: str | None = Field(default=None, description="Guilds only: the user who clicked")
    message_id: str | None = None
    feature_id: str | None = None
    checked: int | None = None


class InteractionData(_Wire):
    resolved: InteractionResolved = Field(default_factory=InteractionResolved)


class InteractionCreateData(ChatData):
    """A button click: who clicked, in which group or C2C chat, and the button's data."""

    id: Ident = Field(description="The interaction id, acknowledged with PUT /interactions/{id}")
    type: int | None = Field(default=None, description="11: a message button", examples=[11])
    scene: str | None = Field(default=None, examples=["group", "c2c", "guild"])
    chat_type: int | None = Field(default=None, description="0 guild, 1 group, 2 C2C")
    timestamp: UnixSeconds | None = None
    group_openid: str | None = None
    group_member_openid: str | None = None
    user_openid: str | None = None
    guild_id: str | None = None
    channel_id: str | None = None
    application_id: str | None = None
    version: int | None = None
    data: InteractionData = Field(default_factory=InteractionData)

    @property
    def button_data(self) -> str:
        return self.data.resolved.button_data or ""

    def chat_of(self, event_id: str | None) -> Chat:
        if self.group_openid:
            return Chat("qq", self.group_openid, self.group_member_openid, None, event_id, self.timestamp)
        return Chat("qq", None, self.user_openid, None, event_id, self.timestamp)


@register
class InteractionCreate(QQDispatch):
    """A user clicked a callback button: acknowledge it, then its data is the user's command.

    A reply cites the event's id (``event_id``), as for GROUP_ADD_ROBOT; guild clicks have no
    group or user here (``chat()`` is None)."""

    t: Literal["INTERACTION_CREATE"]
    d: InteractionCreateData

    def chat(self) -> Chat | None:
        if not (self.d.group_openid or self.d.user_openid):
            return None
        return self.d.chat_of(self.id)

    @property
    def to_me(self) -> bool:
        return True

    def addressed_pieces(self) -> list[Piece]:
        return qq_pieces(self.d.button_data.strip())

    @property
    def addressed_text(self) -> str:
        return self.d.button_data.strip()

    @property
    def sender_role(self) -> str | None:
        return None


class ValidationData(_Wire):
    plain_token: str
    event_ts: str


class UrlValidation(QQPayload):
    """op 13: the platform checks a webhook URL by asking it to sign ``event_ts + plain_token``."""

    op: Literal[13]
    d: ValidationData


def parse_qq(payload: dict[str, Any]) -> QQPayload:
    """The most specific model ``payload`` validates against (see ``parse_qq_verbose``)."""
    return parse_qq_verbose(payload)[0]


def parse_qq_verbose(payload: dict[str, Any]) -> tuple[QQPayload, str | None]:
    """The most specific model, and why a more specific one did not fit, if one did not.

    Raises
    ------
    pydantic.ValidationError
        When the payload is not even a QQ envelope (no integer ``op``).
    """
    if payload.get("op") == 13:
        return UrlValidation.model_validate(payload), None
    if payload.get("op") != 0:
        return QQPayload.model_validate(payload), None
    t = payload.get("t")
    return qq_models.parse((t,) if isinstance(t, str) else (), payload, QQPayload.model_validate)
