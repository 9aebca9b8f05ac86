"""OneBot v11 messages checked before they are sent: every segment of the v11 set, with its data.

The OneBot sender hands the implementation what the handler asked for, so a segment with a
missing or malformed field would reach NapCat / Lagrange / go-cqhttp and come back as an
opaque error, or be sent half-built (go-cqhttp drops a segment it cannot read and sends the
rest). Here every segment is checked first, and a bad one fails the action with a reason that
names it (``segment 2 (music): ...``): ``unsupported_message`` for a segment OneBot cannot carry
(QQ's ``markdown``, ``keyboard``, ``ark``; anything not in v11), ``invalid_message`` for bad data.

Two conversions, both exact:
- ``json`` with an object as ``data`` is sent with ``data`` as its JSON text (v11 says a string);
- a message of ``node`` segments only (a merged forward) sent with ``send_group_msg`` /
  ``send_private_msg`` / ``send_msg`` goes as ``send_group_forward_msg`` /
  ``send_private_forward_msg`` with ``messages``: the forward actions that NapCat, Lagrange and
  go-cqhttp all serve (``send_msg`` with nodes is NapCat's and Lagrange's only).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from qqbus.actions import Action
from qqbus.events.message import Segment, to_segments

#: Actions whose ``message`` param is a message; the forward actions carry ``messages`` (nodes).
MESSAGE_ACTIONS = frozenset({"send_msg", "send_group_msg", "send_private_msg"})
FORWARD_ACTIONS = frozenset({"send_group_forward_msg", "send_private_forward_msg"})
#: Music platforms of v11 (NapCat and Lagrange add more; custom cards work everywhere).
MUSIC_TYPES = frozenset({"qq", "163", "xm"})
#: QQ official segments OneBot cannot carry.
QQ_ONLY = frozenset({"markdown", "keyboard", "ark"})


class InvalidMessage(ValueError):
    """A message the OneBot API should not be sent (``reason``: ``unsupported_message`` or
    ``invalid_message``)."""

    def __init__(self, message: str, reason: str = "invalid_message") -> None:
        super().__init__(message)
        self.reason = reason


def _has(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    return value is not None and str(value).strip() != ""


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.strip().lstrip("-").isdigit()


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _need(*keys: str) -> Callable[[dict[str, Any]], str | None]:
    def check(data: dict[str, Any]) -> str | None:
        missing = [k for k in keys if not _has(data, k)]
        return f"needs {', '.join(missing)}" if missing else None

    return check


def _none(data: dict[str, Any]) -> str | None:
    return None


def _text(data: dict[str, Any]) -> str | None:
    return None if isinstance(data.get("text"), str) else "needs text (a string)"


def _int_field(key: str) -> Callable[[dict[str, Any]], str | None]:
    def check(data: dict[str, Any]) -> str | None:
        return None if _is_int(data.get(key)) else f"needs {key} (a number)"

    return check


def _at(data: dict[str, Any]) -> str | None:
    qq = data.get("qq")
    return None if qq == "all" or _is_int(qq) else 'needs qq: a QQ number or "all"'


def _poke(data: dict[str, Any]) -> str | None:
    """v11's ``{type, id}`` (a poke expression), or go-cqhttp's ``{qq}`` (a nudge in a group)."""
    if _is_int(data.get("qq")) or (_is_int(data.get("type")) and _is_int(data.get("id"))):
        return None
    return "needs type and id (v11), or qq (go-cqhttp), as numbers"


def _contact(data: dict[str, Any]) -> str | None:
    if data.get("type") not in ("qq", "group"):
        return 'needs type "qq" or "group"'
    return None if _is_int(data.get("id")) else "needs id (a number)"


def _location(data: dict[str, Any]) -> str | None:
    return None if _is_number(data.get("lat")) and _is_number(data.get("lon")) else "needs lat and lon"


def _music(data: dict[str, Any]) -> str | None:
    kind = data.get("type")
    if kind == "custom":
        return _need("url", "audio", "title")(data)
    if kind in MUSIC_TYPES:
        return _int_field("id")(data)
    return f"type must be one of {', '.join(sorted(MUSIC_TYPES))} or custom"


def _string_data(data: dict[str, Any]) -> str | None:
    return None if isinstance(data.get("data"), str) and data["data"].strip() else "needs data (a string)"


def _json(data: dict[str, Any]) -> str | None:
    return None if isinstance(data.get("data"), dict | list) else _string_data(data)


#: Each v11 segment type and what its data must hold (file / NapCat-Lagrange additions noted in
#: the README's table).
CHECKS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "text": _text,
    "face": _int_field("id"),
    "image": _need("file"),
    "record": _need("file"),
    "video": _need("file"),
    "file": _need("file"),
    "at": _at,
    "rps": _none,
    "dice": _none,
    "shake": _none,
    "poke": _poke,
    "anonymous": _none,
    "share": _need("url", "title"),
    "contact": _contact,
    "location": _location,
    "music": _music,
    "reply": _need("id"),
    "forward": _need("id"),
    "xml": _string_data,
    "json": _json,
}


def _node(index: int, data: dict[str, Any], depth: int) -> dict[str, Any]:
    """A forward node: ``{id}`` (a message to include) or ``{user_id|uin, nickname|name, content}``."""
    if _has(data, "id") and not _has(data, "content"):
        return data
    if not (_is_int(data.get("user_id")) or _is_int(data.get("uin"))):
        raise InvalidMessage(f"segment {index} (node): needs id, or user_id (uin) with content")
    if not (_has(data, "nickname") or _has(data, "name")):
        raise InvalidMessage(f"segment {index} (node): needs nickname (name)")
    content = data.get("content")
    if content is None or content == "" or content == []:
        raise InvalidMessage(f"segment {index} (node): needs content")
    try:
        inner = check_message(content, depth=depth + 1)
    except InvalidMessage as exc:
        raise InvalidMessage(f"segment {index} (node) content: {exc}", exc.reason) from None
    return {**data, "content": inner}


def check_message(message: Any, *, depth: int = 0) -> list[dict[str, Any]]:
    """``message`` (CQ string or segments) as the segment dicts to send, each one checked.

    Raises
    ------
    InvalidMessage
        Naming the first segment that is not a v11 segment or whose data is wrong.
    """
    if depth > 3:
        raise InvalidMessage("forward nodes nest at most 3 deep")
    try:
        segments = to_segments(message)
    except (ValueError, TypeError) as exc:
        raise InvalidMessage(f"not a message: {exc}") from None
    if not segments:
        raise InvalidMessage("the message is empty", "empty_message")
    out: list[dict[str, Any]] = []
    for index, seg in enumerate(segments):
        out.append(_segment(index, seg, depth))
    return out


def _segment(index: int, seg: Segment, depth: int) -> dict[str, Any]:
    data = dict(seg.data)
    if seg.type == "node":
        return {"type": "node", "data": _node(index, data, depth)}
    check = CHECKS.get(seg.type)
    if check is None:
        where = "a QQ official segment" if seg.type in QQ_ONLY else "not a OneBot v11 segment"
        raise InvalidMessage(
            f"segment {index} ({seg.type}): OneBot cannot carry it ({where})", "unsupported_message"
        )
    if problem := check(data):
        raise InvalidMessage(f"segment {index} ({seg.type}): {problem}")
    if seg.type == "json" and not isinstance(data["data"], str):
        data["data"] = json.dumps(data["data"], ensure_ascii=False, separators=(",", ":"))
    return {"type": seg.type, "data": data}


def checked_call(action: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The OneBot action and params to send for ``action``: messages checked (and a message of
    nodes sent with the forward action); other actions unchanged.

    Raises
    ------
    InvalidMessage
        The message, or one of the forward's nodes, is not sendable.
    """
    if action in FORWARD_ACTIONS:
        nodes = check_message(params.get("messages"))
        if any(n["type"] != "node" for n in nodes):
            raise InvalidMessage(f"{action} takes node segments only")
        return action, {**params, "messages": nodes}
    if action not in MESSAGE_ACTIONS or "message" not in params:
        return action, params
    message = params["message"]
    if isinstance(message, str) and params.get("auto_escape") in (True, "true", 1):
        if not message:
            raise InvalidMessage("the message is empty", "empty_message")
        return action, params  # plain text, CQ codes and all
    segments = check_message(message)
    nodes = [s for s in segments if s["type"] == "node"]
    if not nodes:  # a CQ string stays a string (checked), segments go as checked
        return action, params if isinstance(message, str) else {**params, "message": segments}
    if len(nodes) != len(segments):
        raise InvalidMessage("node segments make a forward of their own: send the other segments apart")
    if action == "send_msg":
        kind = params.get("message_type") or ("group" if "group_id" in params else "private")
    else:
        kind = "group" if action == "send_group_msg" else "private"
    rest = {k: v for k, v in params.items() if k not in ("message", "message_type", "auto_escape")}
    return f"send_{kind}_forward_msg", {**rest, "messages": nodes}


def checked_action(action: Action) -> Action:
    """``action`` with its message checked (and converted where exact: see ``checked_call``).

    Raises
    ------
    InvalidMessage
        As ``checked_call``.
    """
    name, params = checked_call(action.action, action.params)
    if name == action.action and params is action.params:
        return action
    return action.model_copy(update={"action": name, "params": params})
