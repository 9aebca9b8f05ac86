"""The four group-robot events: the bot added to or removed from a group, proactive messages
turned off or on there."""

from typing import Literal

from pydantic import Field

from qqbus.events.chat import Chat
from qqbus.events.qq_envelope import ChatData, Ident, QQDispatch, register
from qqbus.events.types import UnixSeconds


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
