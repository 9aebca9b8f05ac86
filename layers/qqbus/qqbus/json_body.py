"""The one JSON reader of every door: a platform's body (an HTTP request, a WebSocket frame)
read into a JSON object the bus can carry, or the reason it is not one.

HTTP ingress (``qqbus.ingress``) and the relay (``qqbus_relay.onebot_ws``) both read with it, so
what one refuses the other refuses too. It returns only what the bus can carry: nesting at
most ``MAX_JSON_DEPTH`` deep (checked without recursion before ``json.loads``, which recurses
once per level), finite numbers only (no ``NaN``/``Infinity``, no ``1e999``), integers within
64 bits (the bus's limit). A lone surrogate escape (``"\\ud83d"``, a cut emoji) is accepted and
kept: ``qqbus.detail.json_text`` writes it back as that escape.

Standard library only: the relay imports it without the Lambda-side modules.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from itertools import accumulate
from typing import Any

#: Deepest nesting of arrays and objects accepted. Real events nest a handful of levels; the
#: cap keeps ``json.loads`` far from the recursion limit (and the bus's own 1000 levels).
MAX_JSON_DEPTH = 64
#: The integers EventBridge accepts in ``Detail`` (a signed 64-bit range).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = str.maketrans({"[": "\x01", "{": "\x01", "]": "\xff", "}": "\xff"})


class NotAJsonObject(ValueError):
    """The body is not a JSON object: not UTF-8, not JSON, or JSON of another kind."""


class Uncarriable(ValueError):
    """Valid JSON that the bus cannot carry: nested too deep, a non-finite or out-of-range number."""


def _no_constant(name: str) -> Any:
    raise Uncarriable(f"body has {name}, which is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise Uncarriable(f"body has the number {text[:30]}, which overflows to infinity")
    return value


def _int64(text: str) -> int:
    value = int(text) if len(text) <= 20 else None  # 20 characters hold every int64
    if value is None or not INT64_MIN <= value <= INT64_MAX:
        raise Uncarriable(f"body has the integer {text[:30]}, outside the 64-bit range of the bus")
    return value


def nesting_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects in JSON ``text`` nest deeper than ``limit``.

    No recursion and no Python loop per character: strings are cut out (an unterminated one
    runs to the end, so the regex never backtracks), brackets become +1/-1, and the deepest
    running sum is the depth.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    steps = array("b", brackets.translate(_DEPTH_STEP).encode("latin-1"))
    return max(accumulate(steps), default=0) > limit


def load_json_object(body: bytes | str) -> dict[str, Any]:
    """``body`` (UTF-8 bytes, or text) as a JSON object the bus can carry.

    Raises
    ------
    Uncarriable
        Valid JSON with a value the bus cannot carry (checked first for nesting).
    NotAJsonObject
        Anything else that is not a JSON object.
    """
    if isinstance(body, str):
        text = body
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotAJsonObject(f"body is not UTF-8 (byte {exc.start})") from None
    if nesting_exceeds(text):
        raise Uncarriable(f"body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep")
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_int64)
    except Uncarriable:
        raise
    except ValueError as exc:
        raise NotAJsonObject(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise NotAJsonObject(f"body is JSON {type(data).__name__}, not an object")
    return data


def read_json_object(body: bytes | str) -> tuple[dict[str, Any] | None, str | None]:
    """The body as a JSON object the bus can carry, or None and why it is not one. Never raises."""
    try:
        return load_json_object(body), None
    except ValueError as exc:  # NotAJsonObject, Uncarriable
        return None, str(exc)
