"""The QQ official envelope ``{op, s, t, id, d}``, the registry of its dispatch models.

Dispatches (op 0) carry the event type in ``t`` and its data in ``d``; over the webhook they
carry no ``s``. Notice events give ``d.timestamp`` as integer seconds, message events as an
RFC 3339 string; both are read as Unix seconds (``UnixSeconds``: plausible times only).
The event models live in modules by kind (``qq_group_events``, ``qq_user_events``,
``qq_messages``, ``qq_interactions``, ``qq_url_validation``), so a function builds only the
models it uses; ``qqbus.events.qq`` names them all. These modules leave out ``from __future__
import annotations``: with it pydantic evaluates every annotation string as it creates a class,
a fifth of what a model costs a cold start.
"""

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from qqbus.events.chat import Chat
from qqbus.events.registry import ModelRegistry

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


class Wire(BaseModel):
    """Every QQ model: fields QQ adds are kept, and the validator is built on first use."""

    model_config = ConfigDict(extra="allow", defer_build=True)


class QQPayload(Wire):
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


class ChatData(Wire):
    """Event data that names a group or a user."""

    def chat_of(self, event_id: str | None) -> Chat:
        raise NotImplementedError


class QQDispatch(QQPayload):
    """An op 0 dispatch: an event of type ``t``."""

    op: Literal[0]
    t: str


qq_models: ModelRegistry[QQDispatch] = ModelRegistry(QQDispatch, (("t",),))
register = qq_models.register
