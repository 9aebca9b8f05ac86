"""``notify`` notices: pokes, the lucky king of a red packet, honors, titles."""

from typing import Literal

from pydantic import Field

from qqbus.events.onebot_envelope import NoticeEvent, register
from qqbus.events.types import Int64


@register
class Notify(NoticeEvent):
    """A notification (``notify``) whose ``sub_type`` says what: poke, lucky_king, honor, title."""

    notice_type: Literal["notify"]
    sub_type: str = Field(examples=["poke", "lucky_king", "honor", "title"])


@register
class Poke(Notify):
    """Someone poked (戳一戳) the bot or a member, in a group or (no ``group_id``) privately."""

    sub_type: Literal["poke"]
    group_id: Int64 | None = Field(default=None, description="Absent for a private (friend) poke")
    user_id: Int64 = Field(description="Who poked")
    target_id: Int64 = Field(description="Who was poked (the bot: its self_id)")
    sender_id: Int64 | None = Field(default=None, description="Who poked, as some implementations add it")


@register
class LuckyKing(Notify):
    """A group red packet's luckiest receiver (运气王) was decided."""

    sub_type: Literal["lucky_king"]
    group_id: Int64
    user_id: Int64 = Field(description="Who sent the red packet")
    target_id: Int64 = Field(description="The lucky king")


@register
class Honor(Notify):
    """A member got a group honor (群荣誉): dragon king, performer, emotion."""

    sub_type: Literal["honor"]
    group_id: Int64
    user_id: Int64
    honor_type: str = Field(examples=["talkative", "performer", "emotion"])


@register
class Title(Notify):
    """A member got a special title (群头衔; go-cqhttp, NapCat)."""

    sub_type: Literal["title"]
    group_id: Int64
    user_id: Int64
    title: str = ""
