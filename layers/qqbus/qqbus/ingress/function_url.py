"""Function URL events (payload format 2.0) to ``Request``, and ``Response`` back.

Everything Lambda-specific about the ingress functions lives here: base64 bodies, lowercased
header names, the ``{"statusCode", "headers", "body"}`` answer. An unexpected error becomes a
500 with a generic body; the stack trace goes to the log, never into the response.

Bodies are read with ``qqbus.json_body.read_json_object``, the one JSON reader of every door
(the relay's WebSockets use it too): only a JSON object the bus can carry gets through.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qqbus.aws import prewarm
from qqbus.detail import json_text, utf8_safe
from qqbus.observability import count, logger, summarised

#: Bodies above this are refused with 413 (a PutEvents entry holds at most 256 KiB).
DEFAULT_MAX_BODY_BYTES = 240 * 1024


def max_body_bytes() -> int:
    return int(os.environ.get("QQBUS_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)


def env_flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to a true value (1, true, yes)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


class BadRequest(ValueError):
    """The request cannot be read: a body that is not valid base64, an event of the wrong shape."""


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


def from_function_url(event: Any) -> Request:
    """The request in a Function URL (or API Gateway HTTP API) event.

    Raises
    ------
    BadRequest
        When the event does not have that shape (no Function URL sends one, but a direct
        invocation can): not an object, or a field of another kind (``requestContext: null``,
        a list as the body). Null headers and query parameters are taken as none.
    """
    if not isinstance(event, dict):
        raise BadRequest(f"the event is a JSON {_kind(event)}, not a Function URL request")
    context = _object(event.get("requestContext", {}), "requestContext")
    http = _object(context.get("http", {}), "requestContext.http")
    raw = event.get("body")
    if raw is None:
        raw = ""
    elif not isinstance(raw, str | bytes | bytearray):
        raise BadRequest(f"the event's body is a JSON {_kind(raw)}, not a string")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("body is marked base64 but is not valid base64") from exc
    else:
        body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    headers = {
        str(k).lower(): utf8_safe(str(v)) for k, v in _object(event.get("headers") or {}, "headers").items()
    }
    query = _object(event.get("queryStringParameters") or {}, "queryStringParameters")
    return Request(
        method=str(http.get("method") or event.get("httpMethod") or "POST").upper(),
        path=str(event.get("rawPath") or http.get("path") or "/"),
        headers=headers,
        body=body,
        query={str(k): str(v) for k, v in query.items()},
    )


def _object(value: Any, name: str) -> dict[str, Any]:
    """``value``, the event's field ``name``, if it is an object."""
    if not isinstance(value, dict):
        raise BadRequest(f"the event's {name} is a JSON {_kind(value)}, not an object")
    return value


_KINDS: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    type(None): "null",
}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def to_function_url(response: Response) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": response.headers,
        "body": response.body.decode("utf-8", "replace"),
    }


def function_url_handler(
    handle: Callable[[Request], Response],
) -> Callable[[Any, Any], dict[str, Any]]:
    """``lambda_handler`` for a Function URL: translate, ``handle``, translate back."""

    def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
        # Not counted: Lambda's Invocations metric of the function is the request count.
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
    return logger.inject_lambda_context(clear_state=True)(summarised(lambda_handler))


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
