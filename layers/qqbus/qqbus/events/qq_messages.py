"""Messages to the bot: group @-messages and C2C (private) messages, with their authors, files
and mentions."""

import re
from typing import Literal

from pydantic import Field

from qqbus.events.chat import Chat, Piece, qq_pieces
from qqbus.events.qq_envelope import ChatData, QQDispatch, Wire, register
from qqbus.events.types import UnixSeconds


class GroupAuthor(Wire):
    """Who sent a group message (openids are per bot)."""

    member_openid: str
    union_openid: str | None = None


class C2CAuthor(Wire):
    """Who sent a C2C (private) message."""

    user_openid: str
    union_openid: str | None = None


class Attachment(Wire):
    """A file sent with a message; every field is what the platform chose to send."""

    content_type: str | None = Field(default=None, examples=["image/jpeg", "file", "voice"])
    filename: str | None = None
    url: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None


class Mention(Wire):
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
