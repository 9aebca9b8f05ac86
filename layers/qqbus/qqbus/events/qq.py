"""QQ official bot platform payloads: the ``{op, s, t, id, d}`` envelope and its events.

Every QQ model is named here (``from qqbus.events.qq import GroupAddRobot``), but each kind
lives in its own module and is imported when first asked for: a function that handles
GROUP_ADD_ROBOT builds the envelope and the group-robot models, not the thirty others (a
pydantic class costs a fraction of a millisecond to create, and cold starts add them up).
``parse_qq`` and the registry ``qq_models`` load every kind first, since they choose among all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qqbus.events.kinds import Kinds
from qqbus.events.qq_envelope import (
    INTENT_GROUP_AND_C2C_EVENT,
    INTENT_INTERACTION,
    INTENTS,
    SOURCE,
    ChatData,
    Ident,
    QQDispatch,
    QQPayload,
    parse_intents,
    register,
)
from qqbus.events.qq_envelope import qq_models as _registry

if TYPE_CHECKING:  # what __getattr__ imports on demand, for type checkers
    from qqbus.events.qq_envelope import qq_models
    from qqbus.events.qq_group_events import (
        GroupAddRobot,
        GroupDelRobot,
        GroupMsgReceive,
        GroupMsgReject,
        GroupRobotData,
    )
    from qqbus.events.qq_interactions import (
        InteractionCreate,
        InteractionCreateData,
        InteractionData,
        InteractionResolved,
    )
    from qqbus.events.qq_messages import (
        Attachment,
        C2CAuthor,
        C2CMessageCreate,
        C2CMessageData,
        GroupAtMessageCreate,
        GroupAuthor,
        GroupMessageData,
        Mention,
        MessageData,
        QQMessage,
    )
    from qqbus.events.qq_url_validation import UrlValidation, ValidationData
    from qqbus.events.qq_user_events import C2CMsgReceive, C2CMsgReject, FriendAdd, FriendDel, UserRobotData
    from qqbus.events.registry import ModelRegistry

#: The modules of the event models, by the names they define.
_KINDS: dict[str, tuple[str, ...]] = {
    "qq_group_events": (
        "GroupRobotData",
        "GroupAddRobot",
        "GroupDelRobot",
        "GroupMsgReject",
        "GroupMsgReceive",
    ),
    "qq_user_events": ("UserRobotData", "FriendAdd", "FriendDel", "C2CMsgReject", "C2CMsgReceive"),
    "qq_messages": (
        "GroupAuthor",
        "C2CAuthor",
        "Attachment",
        "Mention",
        "MessageData",
        "GroupMessageData",
        "C2CMessageData",
        "QQMessage",
        "GroupAtMessageCreate",
        "C2CMessageCreate",
    ),
    "qq_interactions": (
        "InteractionResolved",
        "InteractionData",
        "InteractionCreateData",
        "InteractionCreate",
    ),
    "qq_url_validation": ("ValidationData", "UrlValidation"),
}
_kinds = Kinds("qqbus.events", _KINDS, _registry, "qq_models")

__all__ = [
    "INTENTS",
    "INTENT_GROUP_AND_C2C_EVENT",
    "INTENT_INTERACTION",
    "SOURCE",
    "Attachment",
    "C2CAuthor",
    "C2CMessageCreate",
    "C2CMessageData",
    "C2CMsgReceive",
    "C2CMsgReject",
    "ChatData",
    "FriendAdd",
    "FriendDel",
    "GroupAddRobot",
    "GroupAtMessageCreate",
    "GroupAuthor",
    "GroupDelRobot",
    "GroupMessageData",
    "GroupMsgReceive",
    "GroupMsgReject",
    "GroupRobotData",
    "Ident",
    "InteractionCreate",
    "InteractionCreateData",
    "InteractionData",
    "InteractionResolved",
    "Mention",
    "MessageData",
    "QQDispatch",
    "QQMessage",
    "QQPayload",
    "UrlValidation",
    "UserRobotData",
    "ValidationData",
    "load_all",
    "parse_intents",
    "parse_qq",
    "parse_qq_verbose",
    "qq_models",
    "register",
]


def load_all() -> ModelRegistry[QQDispatch]:
    """``qq_models`` with every kind of event model imported, so each is registered in it."""
    return _kinds.load_all()


def __getattr__(name: str) -> Any:
    return _kinds.attribute(__name__, name)


def __dir__() -> list[str]:
    return sorted(__all__)


def parse_qq(payload: dict[str, Any]) -> QQPayload:
    """The most specific model ``payload`` validates against (see ``parse_qq_verbose``)."""
    return parse_qq_verbose(payload)[0]


def parse_qq_verbose(payload: dict[str, Any]) -> tuple[QQPayload, str | None]:
    """The most specific model, and why a more specific one did not fit, if one did not.

    Raises
    ------
    pydantic.ValidationError
        When the payload is not even a QQ envelope (no integer ``op``).
    """
    if payload.get("op") == 13:
        return __getattr__("UrlValidation").model_validate(payload), None  # type: ignore[no-any-return]
    if payload.get("op") != 0:
        return QQPayload.model_validate(payload), None
    t = payload.get("t")
    return load_all().parse((t,) if isinstance(t, str) else (), payload, QQPayload.model_validate)
