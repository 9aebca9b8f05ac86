"""Notices about the bot's own account: friends added, private recalls, files, other clients."""

from typing import Any, Literal

from pydantic import Field

from qqbus.events.onebot_envelope import NoticeEvent, Wire, register
from qqbus.events.types import Int64


@register
class FriendAdd(NoticeEvent):
    """Someone became the bot's friend."""

    notice_type: Literal["friend_add"]
    user_id: Int64


@register
class FriendRecall(NoticeEvent):
    """A friend recalled a private message."""

    notice_type: Literal["friend_recall"]
    user_id: Int64
    message_id: Int64 | None = None


class OfflineFileInfo(Wire):
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
