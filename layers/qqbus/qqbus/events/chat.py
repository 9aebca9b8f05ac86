"""What every event model answers about itself: its protocol, its chat, what it says to the bot.

The QQ and OneBot models (``qqbus.events.qq``, ``qqbus.events.onebot``) implement ``ChatEvent``
from their own fields, so the reply API, the command router and the console ask the event
instead of sniffing its attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

ProtocolName = Literal["qq", "onebot"]

#: One piece of a message's text after the bot's own mention: (text, is_mention). A mention's
#: text is the id mentioned (QQ openid, OneBot QQ number or "all").
Piece = tuple[str, bool]

#: A mention inside QQ ``content``: ``<@openid>``, ``<@!openid>`` or ``<qqbot-at-user id="..." />``.
QQ_MENTION = re.compile(r'<@!?(?P<a>[^<>\s]+)>|<qqbot-at-user id="(?P<b>[^"<>]+)"\s*/>')


@dataclass(frozen=True)
class Chat:
    """Where an event happened: a group (with the member), or a private chat with a user.

    ``message_id`` is the platform's id of the message (messages only; QQ passive replies cite
    it); ``event_id`` the QQ envelope id (citable for posts) when there is one; ``time`` when it
    happened (Unix seconds).
    """

    protocol: ProtocolName
    group_id: str | None
    user_id: str | None
    message_id: str | None = None
    event_id: str | None = None
    time: int | None = None

    @property
    def key(self) -> str:
        """The conversation this chat is: ``group:<id>`` or ``user:<id>`` (a member's state in a
        group is keyed by the group and the user together)."""
        return f"group:{self.group_id}" if self.group_id else f"user:{self.user_id}"


@runtime_checkable
class ChatEvent(Protocol):
    """An event model that knows its protocol and chat."""

    protocol: ProtocolName

    def chat(self) -> Chat | None:
        """Its chat, or None for an event that belongs to no group or user (a heartbeat)."""
        ...


@runtime_checkable
class MessageLikeEvent(ChatEvent, Protocol):
    """A message event: what it says after the bot's own mention, and whether it is to the bot."""

    @property
    def to_me(self) -> bool:
        """The bot is addressed: a private message, or a group message that @-mentions it."""
        ...

    def addressed_pieces(self) -> list[Piece]:
        """The message after the bot's own leading @-mention, as text and mentions."""
        ...

    @property
    def addressed_text(self) -> str:
        """The text after the bot's own leading @-mention, stripped (mentions left out)."""
        ...

    @property
    def sender_role(self) -> str | None:
        """The sender's role where it was sent (OneBot groups: owner, admin, member); QQ has none."""
        ...


def qq_pieces(text: str) -> list[Piece]:
    """QQ ``content`` split at its mentions."""
    pieces: list[Piece] = []
    pos = 0
    for found in QQ_MENTION.finditer(text):
        pieces += [(text[pos : found.start()], False), (found["a"] or found["b"], True)]
        pos = found.end()
    return [*pieces, (text[pos:], False)]


def str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
