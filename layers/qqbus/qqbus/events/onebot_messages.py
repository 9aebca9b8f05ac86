"""Message events: private and group messages, with their senders."""

from typing import Literal

from pydantic import Field

from qqbus.events.chat import Chat, Piece, str_or_none
from qqbus.events.message import Message, plain_text
from qqbus.events.onebot_envelope import OneBotEvent, Wire, register
from qqbus.events.types import EventTime, Int64


class Sender(Wire):
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


class Anonymous(Wire):
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
