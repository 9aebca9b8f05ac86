"""Function URL events (payload format 2.0) to ``Request``, and ``Response`` back.

Everything Lambda-specific about the ingress functions lives here: base64 bodies, lowercased
header names, the ``{"statusCode", "headers", "body"}`` answer. An unexpected error becomes a
500 with a generic body; the stack trace goes to the log, never into the response.

``read_json_object`` is the one place ingress parses JSON, and it only returns what the bus
can carry: nesting at most ``MAX_JSON_DEPTH`` deep (checked without recursion before
``json.loads``, which recurses once per level), finite numbers only (no ``NaN``/``Infinity``, no ``1e999``),
integers within 64 bits (the bus's limit). A lone surrogate escape (``"\\ud83d"``, a cut
emoji) is accepted and kept: ``qqbus.detail.json_text`` writes it back as that escape.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from qqbus.aws import prewarm
from qqbus.detail import json_text, utf8_safe
from qqbus.observability import count, logger, publishing_metrics

#: Bodies above this are refused with 413 (a PutEvents entry holds at most 256 KiB).
DEFAULT_MAX_BODY_BYTES = 240 * 1024
#: Deepest nesting of arrays and objects accepted. Real events nest a handful of levels; the
#: cap keeps ``json.loads`` far from the recursion limit (and the bus's own 1000 levels).
MAX_JSON_DEPTH = 64
#: The integers EventBridge accepts in ``Detail`` (a signed 64-bit range).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = str.maketrans({"[": "\x01", "{": "\x01", "]": "\xff", "}": "\xff"})


def max_body_bytes() -> int:
    return int(os.environ.get("QQBUS_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)


def env_flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to a true value (1, true, yes)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


class BadRequest(ValueError):
    """The request cannot be read (a body that is not valid base64)."""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes
    query: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any) -> Response:
        return cls(status, json_text(data).encode(), {"content-type": "application/json"})

    @classmethod
    def error(cls, status: int, reason: str, log_message: str | None = None) -> Response:
        """A refusal: logged with its reason, counted, and explained in a JSON body."""
        reason = utf8_safe(reason)  # it may quote the request
        logger.warning(utf8_safe(log_message or reason), extra={"status": status, "reason": reason})
        count(f"Rejected{status}")
        return cls.json(status, {"error": reason})


def refuse_early(request: Request) -> Response | None:
    """The checks both endpoints make first: POST only (405), the body size limit (413)."""
    if request.method != "POST":
        return Response.error(405, f"method {request.method} not allowed; events are POSTed")
    limit = max_body_bytes()
    if len(request.body) > limit:
        return Response.error(413, f"body of {len(request.body)} bytes is over the {limit} limit")
    return None


def from_function_url(event: dict[str, Any]) -> Request:
    """The request in a Function URL (or API Gateway HTTP API) event."""
    http = event.get("requestContext", {}).get("http", {})
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("body is marked base64 but is not valid base64") from exc
    else:
        body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    headers = {str(k).lower(): utf8_safe(str(v)) for k, v in (event.get("headers") or {}).items()}
    return Request(
        method=str(http.get("method") or event.get("httpMethod") or "POST").upper(),
        path=str(event.get("rawPath") or http.get("path") or "/"),
        headers=headers,
        body=body,
        query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
    )


def to_function_url(response: Response) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": response.headers,
        "body": response.body.decode("utf-8", "replace"),
    }


def function_url_handler(
    handle: Callable[[Request], Response],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """``lambda_handler`` for a Function URL: translate, ``handle``, translate back."""

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        count("Requests")
        try:
            request = from_function_url(event)
            response = handle(request)
        except BadRequest as exc:
            response = Response.error(400, str(exc))
        except Exception:
            logger.exception("unexpected error handling the request")
            count("Errors")
            response = Response.json(500, {"error": "internal error"})
        return to_function_url(response)

    prewarm("events")  # in Lambda's init phase only (see qqbus.aws.prewarm_enabled)
    traced = logger.inject_lambda_context(clear_state=True)(lambda_handler)
    return publishing_metrics(traced)


class _Unacceptable(ValueError):
    """Valid JSON syntax that the bus cannot carry (a non-finite or out-of-range number)."""


def _no_constant(name: str) -> Any:
    raise _Unacceptable(f"body has {name}, which is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Unacceptable(f"body has the number {text[:30]}, which overflows to infinity")
    return value


def _int64(text: str) -> int:
    value = int(text) if len(text) <= 20 else None  # 20 characters hold every int64
    if value is None or not INT64_MIN <= value <= INT64_MAX:
        raise _Unacceptable(f"body has the integer {text[:30]}, outside the 64-bit range of the bus")
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


def read_json_object(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The body as a JSON object the bus can carry, or None and why it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"body is not UTF-8 (byte {exc.start})"
    if nesting_exceeds(text):
        return None, f"body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep"
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_int64)
    except _Unacceptable as exc:
        return None, str(exc)
    except ValueError as exc:
        return None, f"body is not JSON: {exc}"
    if not isinstance(data, dict):
        return None, f"body is JSON {type(data).__name__}, not an object"
    return data, None


def function_url_event(
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    path: str = "/",
    base64_body: bool | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Function URL event (payload format 2.0) Lambda would pass for this HTTP request.

    The body is base64-encoded when asked, or when it is not UTF-8 (as Lambda does for binary).
    """
    if base64_body is None:
        try:
            body.decode("utf-8")
            base64_body = False
        except UnicodeDecodeError:
            base64_body = True
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "queryStringParameters": query or None,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "local",
            "timeEpoch": 0,
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode("utf-8"),
        "isBase64Encoded": base64_body,
    }
