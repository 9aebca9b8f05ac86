"""INTERACTION_CREATE: a user clicked a keyboard's callback button."""

from typing import Literal

from pydantic import Field

from qqbus.events.chat import Chat, Piece, qq_pieces
from qqbus.events.qq_envelope import ChatData, Ident, QQDispatch, Wire, register
from qqbus.events.types import UnixSeconds


class InteractionResolved(Wire):
    """What was clicked: the button's id and ``button_data`` (its ``action.data``), and where."""

    button_data: str | None = Field(default=None, description="The clicked button's action.data")
    button_id: str | None = None
    user_id: str | None = Field(default=None, description="Guilds only: the user who clicked")
    message_id: str | None = None
    feature_id: str | None = None
    checked: int | None = None


class InteractionData(Wire):
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
