"""Group notices: files, admins, members leaving and joining, mutes, recalls, cards, essence."""

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from qqbus.events.onebot_envelope import MAX_MUTE_SECONDS, NoticeEvent, Wire, register
from qqbus.events.types import Int64


class GroupFile(Wire):
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
    def _a_mute_of_the_bot_has_a_duration(self) -> Self:
        # Read as "muted until lifted", a missing duration would silence the bot for good.
        if self.sub_type == "ban" and self.user_id == self.self_id and self.duration <= 0:
            raise ValueError(f"a ban of the bot itself needs a positive duration, not {self.duration}")
        return self


@register
class GroupRecall(NoticeEvent):
    """A group message was recalled, by its sender or an admin."""

    notice_type: Literal["group_recall"]
    group_id: Int64
    user_id: Int64
    operator_id: Int64
    message_id: Int64 | None = None


@register
class GroupCard(NoticeEvent):
    """A member's group card (群名片) changed (go-cqhttp, NapCat; best effort, may lag)."""

    notice_type: Literal["group_card"]
    group_id: Int64
    user_id: Int64
    card_new: str = ""
    card_old: str = ""


@register
class Essence(NoticeEvent):
    """A group message was added to (``add``) or removed from (``delete``) the essence list (精华)."""

    notice_type: Literal["essence"]
    sub_type: str = Field(examples=["add", "delete"])
    group_id: Int64
    sender_id: Int64 = Field(description="Who sent the message")
    operator_id: Int64
    message_id: Int64 | None = None
