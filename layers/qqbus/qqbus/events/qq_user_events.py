"""The four user events: a user added or removed the bot, proactive C2C messages turned off or on."""

from typing import Literal

from pydantic import Field

from qqbus.events.chat import Chat
from qqbus.events.qq_envelope import ChatData, Ident, QQDispatch, register
from qqbus.events.types import UnixSeconds


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
