"""OneBot v11 events, one pydantic class per event.

Every model is named here (``from qqbus.events.onebot import GroupBan``), but each kind lives in
its own module, imported when first asked for: a function that handles ``notice.group_ban``
builds the base event and the group notices, not the messages, requests and meta events (a
pydantic class costs a fraction of a millisecond to create, and cold starts add them up).
``parse_onebot`` and the registry ``onebot_models`` load every kind first, since they choose
among all. The wire rules (optional fields, kept extras, ``Int64``, ``EventTime``) are
``qqbus.events.onebot_envelope``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qqbus.events.kinds import Kinds
from qqbus.events.onebot_envelope import (
    MAX_MUTE_SECONDS,
    SOURCE,
    TYPE_FIELDS,
    NoticeEvent,
    OneBotEvent,
    classify,
    detail_type_of,
    register,
    type_name_of,
)
from qqbus.events.onebot_envelope import onebot_models as _registry

if TYPE_CHECKING:  # what __getattr__ imports on demand, for type checkers
    from qqbus.events.onebot_envelope import onebot_models
    from qqbus.events.onebot_group_notices import (
        Essence,
        GroupAdmin,
        GroupBan,
        GroupCard,
        GroupDecrease,
        GroupFile,
        GroupIncrease,
        GroupRecall,
        GroupUpload,
    )
    from qqbus.events.onebot_messages import (
        Anonymous,
        GroupMessage,
        GroupSender,
        MessageEvent,
        PrivateMessage,
        Sender,
    )
    from qqbus.events.onebot_meta import Heartbeat, Lifecycle, MetaEvent
    from qqbus.events.onebot_notify import Honor, LuckyKing, Notify, Poke, Title
    from qqbus.events.onebot_requests import FriendRequest, GroupRequest, RequestEvent
    from qqbus.events.onebot_user_notices import (
        ClientStatus,
        FriendAdd,
        FriendRecall,
        OfflineFile,
        OfflineFileInfo,
    )
    from qqbus.events.registry import ModelRegistry

#: The modules of the event models, by the names they define.
_KINDS: dict[str, tuple[str, ...]] = {
    "onebot_messages": (
        "Sender",
        "GroupSender",
        "Anonymous",
        "MessageEvent",
        "PrivateMessage",
        "GroupMessage",
    ),
    "onebot_group_notices": (
        "GroupFile",
        "GroupUpload",
        "GroupAdmin",
        "GroupDecrease",
        "GroupIncrease",
        "GroupBan",
        "GroupRecall",
        "GroupCard",
        "Essence",
    ),
    "onebot_user_notices": (
        "FriendAdd",
        "FriendRecall",
        "OfflineFileInfo",
        "OfflineFile",
        "ClientStatus",
    ),
    "onebot_notify": (
        "Notify",
        "Poke",
        "LuckyKing",
        "Honor",
        "Title",
    ),
    "onebot_requests": (
        "RequestEvent",
        "FriendRequest",
        "GroupRequest",
    ),
    "onebot_meta": (
        "MetaEvent",
        "Lifecycle",
        "Heartbeat",
    ),
}
_kinds = Kinds("qqbus.events", _KINDS, _registry, "onebot_models")

__all__ = [
    "MAX_MUTE_SECONDS",
    "SOURCE",
    "TYPE_FIELDS",
    "Anonymous",
    "ClientStatus",
    "Essence",
    "FriendAdd",
    "FriendRecall",
    "FriendRequest",
    "GroupAdmin",
    "GroupBan",
    "GroupCard",
    "GroupDecrease",
    "GroupFile",
    "GroupIncrease",
    "GroupMessage",
    "GroupRecall",
    "GroupRequest",
    "GroupSender",
    "GroupUpload",
    "Heartbeat",
    "Honor",
    "Lifecycle",
    "LuckyKing",
    "MessageEvent",
    "MetaEvent",
    "NoticeEvent",
    "Notify",
    "OfflineFile",
    "OfflineFileInfo",
    "OneBotEvent",
    "Poke",
    "PrivateMessage",
    "RequestEvent",
    "Sender",
    "Title",
    "classify",
    "detail_type_of",
    "load_all",
    "onebot_models",
    "parse_onebot",
    "parse_onebot_verbose",
    "register",
    "type_name_of",
]


def load_all() -> ModelRegistry[OneBotEvent]:
    """``onebot_models`` with every kind of event model imported, so each is registered in it."""
    return _kinds.load_all()


def __getattr__(name: str) -> Any:
    return _kinds.attribute(__name__, name)


def __dir__() -> list[str]:
    return sorted(__all__)


def parse_onebot(payload: dict[str, Any]) -> OneBotEvent:
    """The most specific registered model ``payload`` validates against.

    Raises
    ------
    pydantic.ValidationError
        When even the base ``OneBotEvent`` does not fit (no ``time``/``self_id``/``post_type``).
    """
    model, _ = parse_onebot_verbose(payload)
    return model


def parse_onebot_verbose(
    payload: dict[str, Any], type_name: str | None = None
) -> tuple[OneBotEvent, str | None]:
    """Like ``parse_onebot``; also says why a more specific model did not fit, if one did not.

    ``type_name`` is ``type_name_of(payload)`` when the caller has it already.
    """
    post_type = payload.get("post_type")
    type_name = type_name or type_name_of(payload)
    sub_type = payload.get("sub_type")
    if post_type.__class__ is str and type_name is not None and sub_type.__class__ is str:
        key: tuple[str, ...] = (post_type, type_name, sub_type)  # the common case, built directly
    else:
        key = tuple(v for v in (post_type, type_name, sub_type) if isinstance(v, str))
    return load_all().parse(key, payload)
