"""The platform payloads the sandbox sends, shaped as QQ and OneBot implementations send them.

Pure functions of who, where, what and when, so a test can check each shape against the event
models. QQ: message events carry an RFC 3339 ``d.timestamp`` (UTC+8, as QQ sends it), notices
integer seconds; a group message that @-mentions the bot arrives with the mention removed and a
leading space, and QQ pushes a bot no group message that does not @ it. OneBot: ``message`` is
a segment array (an ``at`` segment first when the bot is mentioned) with ``raw_message`` its
CQ-code string; ``message_id`` and ``time`` make every body, and so every event id, distinct.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from qqbus.events.message import Segment, to_cq

Protocol = Literal["qq", "onebot"]

#: QQ gives message times in China Standard Time.
_CST = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class NoticeSpec:
    """A button of the console: what it does, for which protocol, in words."""

    kind: str
    protocol: Protocol
    label: str
    done: str  # the chat line: "<user> <done>"


#: Every notice the console can send, in the order its buttons appear.
NOTICES: tuple[NoticeSpec, ...] = (
    NoticeSpec("join", "qq", "Add bot to group", "added the bot to the group"),
    NoticeSpec("leave", "qq", "Remove bot", "removed the bot from the group"),
    NoticeSpec("reject", "qq", "Group refuses proactive messages", "turned the bot's proactive messages off"),
    NoticeSpec("receive", "qq", "Group accepts proactive messages", "turned the bot's proactive messages on"),
    NoticeSpec("join", "onebot", "Add bot to group", "invited the bot into the group"),
    NoticeSpec("leave", "onebot", "Bot leaves", "saw the bot leave the group"),
    NoticeSpec("kick", "onebot", "Kick bot", "kicked the bot out of the group"),
    NoticeSpec("mute_bot", "onebot", "Mute bot", "muted the bot"),
    NoticeSpec("unmute_bot", "onebot", "Unmute bot", "unmuted the bot"),
    NoticeSpec("mute_group", "onebot", "Mute whole group", "muted the whole group"),
    NoticeSpec("unmute_group", "onebot", "Unmute whole group", "unmuted the whole group"),
    NoticeSpec("admin", "onebot", "Make bot admin", "made the bot an admin"),
    NoticeSpec("unadmin", "onebot", "Take admin away", "took the bot's admin rights away"),
)
NOTICE_SPECS = {(n.protocol, n.kind): n for n in NOTICES}

_QQ_NOTICE_TYPES = {
    "join": "GROUP_ADD_ROBOT",
    "leave": "GROUP_DEL_ROBOT",
    "reject": "GROUP_MSG_REJECT",
    "receive": "GROUP_MSG_RECEIVE",
}


def qq_openid() -> str:
    """A QQ openid as the platform writes them: 32 upper-case hex digits."""
    return uuid.uuid4().hex.upper()


def _qq_message_id() -> str:
    return "ROBOT1.0_" + secrets.token_urlsafe(36)


def _rfc3339(now: float) -> str:
    return datetime.fromtimestamp(now, _CST).isoformat(timespec="seconds")


def qq_group_at_message(*, group_id: str, user_id: str, text: str, now: float) -> dict[str, Any]:
    """GROUP_AT_MESSAGE_CREATE: ``user_id`` @-mentioned the bot in ``group_id`` with ``text``."""
    event_id = f"GROUP_AT_MESSAGE_CREATE:{uuid.uuid4()}"
    return {
        "op": 0,
        "t": "GROUP_AT_MESSAGE_CREATE",
        "id": event_id,
        "d": {
            "author": {"id": user_id, "member_openid": user_id, "union_openid": user_id},
            "content": " " + text,
            "group_id": group_id,
            "group_openid": group_id,
            "id": _qq_message_id(),
            "message_scene": {"source": "default"},
            "message_type": 0,
            "timestamp": _rfc3339(now),
        },
    }


def qq_c2c_message(*, user_id: str, text: str, now: float) -> dict[str, Any]:
    """C2C_MESSAGE_CREATE: ``user_id`` wrote ``text`` to the bot in private."""
    return {
        "op": 0,
        "t": "C2C_MESSAGE_CREATE",
        "id": f"C2C_MESSAGE_CREATE:{uuid.uuid4()}",
        "d": {
            "author": {"id": user_id, "user_openid": user_id, "union_openid": user_id},
            "content": text,
            "id": _qq_message_id(),
            "message_scene": {"source": "default"},
            "message_type": 0,
            "timestamp": _rfc3339(now),
        },
    }


def qq_group_notice(kind: str, *, group_id: str, operator_id: str, now: float) -> dict[str, Any]:
    """GROUP_ADD_ROBOT / GROUP_DEL_ROBOT / GROUP_MSG_REJECT / GROUP_MSG_RECEIVE by ``operator_id``."""
    event_type = _QQ_NOTICE_TYPES[kind]
    return {
        "op": 0,
        "t": event_type,
        "id": f"{event_type}:{uuid.uuid4()}",
        "d": {"group_openid": group_id, "op_member_openid": operator_id, "timestamp": int(now)},
    }


def onebot_message_id() -> int:
    """A message id as NapCat and Lagrange give them: any 32-bit value, negative ones included."""
    return secrets.randbelow(2**32) - 2**31


def _onebot_message(segments: list[Segment]) -> tuple[list[dict[str, Any]], str]:
    return [s.model_dump() for s in segments], to_cq(segments)


def onebot_group_message(
    *,
    self_id: int,
    group_id: int,
    user_id: int,
    nickname: str,
    text: str,
    mention: bool,
    now: float,
    message_id: int | None = None,
) -> dict[str, Any]:
    """message.group: ``user_id`` wrote ``text`` in ``group_id`` (``mention``: @-ing the bot first)."""
    segments = [Segment.at(self_id), Segment.text(" " + text)] if mention else [Segment.text(text)]
    message, raw = _onebot_message(segments)
    return {
        "time": int(now),
        "self_id": self_id,
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "message_id": onebot_message_id() if message_id is None else message_id,
        "group_id": group_id,
        "user_id": user_id,
        "anonymous": None,
        "message": message,
        "raw_message": raw,
        "font": 0,
        "sender": {"user_id": user_id, "nickname": nickname, "card": "", "role": "member"},
    }


def onebot_private_message(
    *, self_id: int, user_id: int, nickname: str, text: str, now: float, message_id: int | None = None
) -> dict[str, Any]:
    """message.private: the friend ``user_id`` wrote ``text`` to the bot."""
    message, raw = _onebot_message([Segment.text(text)])
    return {
        "time": int(now),
        "self_id": self_id,
        "post_type": "message",
        "message_type": "private",
        "sub_type": "friend",
        "message_id": onebot_message_id() if message_id is None else message_id,
        "user_id": user_id,
        "message": message,
        "raw_message": raw,
        "font": 0,
        "sender": {"user_id": user_id, "nickname": nickname},
    }


def onebot_group_notice(
    kind: str, *, self_id: int, group_id: int, operator_id: int, now: float, duration: int = 600
) -> dict[str, Any]:
    """The notice a OneBot implementation posts when the bot joins, leaves, is muted, made admin..."""
    base: dict[str, Any] = {"time": int(now), "self_id": self_id, "post_type": "notice", "group_id": group_id}
    if kind == "join":
        increase = {"notice_type": "group_increase", "sub_type": "invite", "operator_id": operator_id}
        return {**base, **increase, "user_id": self_id}
    if kind in ("leave", "kick"):
        sub_type, operator = ("leave", self_id) if kind == "leave" else ("kick_me", operator_id)
        decrease = {"notice_type": "group_decrease", "sub_type": sub_type, "operator_id": operator}
        return {**base, **decrease, "user_id": self_id}
    if kind in ("mute_bot", "unmute_bot", "mute_group", "unmute_group"):
        lift = kind.startswith("unmute")
        return {
            **base,
            "notice_type": "group_ban",
            "sub_type": "lift_ban" if lift else "ban",
            "operator_id": operator_id,
            "user_id": self_id if kind.endswith("_bot") else 0,  # 0: the whole group
            "duration": 0 if lift or kind == "mute_group" else duration,
        }
    if kind in ("admin", "unadmin"):
        sub_type = "set" if kind == "admin" else "unset"
        return {**base, "notice_type": "group_admin", "sub_type": sub_type, "user_id": self_id}
    raise ValueError(f"no OneBot notice {kind!r}")


def qq_interaction(
    *, appid: str, group_id: str | None, user_id: str, button_id: str, button_data: str, now: float
) -> dict[str, Any]:
    """INTERACTION_CREATE: ``user_id`` clicked a callback button (in ``group_id``, else in C2C).

    The shape QQ pushes (``events/qq_interaction_create.json``): ``d.id`` is what the bot
    acknowledges, ``d.data.resolved`` carries the button's id and data; a group click names the
    group and the member, a C2C one the user."""
    where: dict[str, Any] = (
        {"chat_type": 1, "scene": "group", "group_openid": group_id, "group_member_openid": user_id}
        if group_id is not None
        else {"chat_type": 2, "scene": "c2c", "user_openid": user_id}
    )
    return {
        "op": 0,
        "t": "INTERACTION_CREATE",
        "id": f"INTERACTION_CREATE:{uuid.uuid4()}",
        "d": {
            "application_id": appid,
            **where,
            "data": {"resolved": {"button_data": button_data, "button_id": button_id}, "type": 11},
            "id": str(uuid.uuid4()),
            "timestamp": _rfc3339(now),
            "type": 11,
            "version": 1,
        },
    }


def message_id_of(payload: dict[str, Any]) -> str | None:
    """The platform's id of a message payload (QQ ``d.id``, OneBot ``message_id``): what a quote
    (``reply`` segment) or a recall names."""
    if payload.get("post_type") == "message" and payload.get("message_id") is not None:
        return str(payload["message_id"])
    d = payload.get("d")
    if isinstance(d, dict) and str(payload.get("t", "")).endswith("MESSAGE_CREATE") and d.get("id"):
        return str(d["id"])
    return None
