"""OneBot v11 HTTP POST: checked, then onto the bus, answered 204 at once.

``X-Self-ID`` is required (400). With a secret configured, ``X-Signature: sha1=<HMAC-SHA1>``
over the raw body is required: missing 401, wrong 403 (a constant-time comparison), and
since the HMAC covers the body, the payload's ``time`` is what dates the request: a signed
event needs a numeric ``time`` inside the replay window (``qqbus.ingress.replay``: at most a
day old, five minutes ahead), else 400, which implementations do not resend. A resend of the
same body (go-cqhttp posts again after ~5 s) is accepted and has the same ``event_id``, so
handlers run once. Without a secret nothing is authenticated and ``time`` is not checked.

Message, notice, request and lifecycle events go on the bus; heartbeats are counted and,
unless ``QQBUS_PUBLISH_HEARTBEATS`` is true, not published. The answer is 204 (no quick
operation), or 503 when the bus refused the event so that the implementation posts it
again, or a 4xx when the bus can never take it (``qqbus.ingress.bus``).

A lone surrogate escape in the body (``"\\ud83d"``: JS-based implementations cut emoji) is
accepted: the payload goes on the bus as received. One in a type field (``post_type``,
``notice_type``, ...) is refused (400), as is a control character there: it cannot be routed.
"""

from __future__ import annotations

from typing import Any

from qqbus.detail import onebot_event_id
from qqbus.events.parse import UnknownPayload, parse_event
from qqbus.ingress.bus import publish
from qqbus.ingress.function_url import Request, Response, env_flag, refuse_early
from qqbus.ingress.replay import outside_window, replays_allowed
from qqbus.json_body import read_json_object
from qqbus.observability import count, logger
from qqbus.secrets import SecretUnavailable, onebot_secret
from qqbus.signatures import onebot_verify


def publish_heartbeats() -> bool:
    return env_flag("QQBUS_PUBLISH_HEARTBEATS")


def handle(request: Request) -> Response:
    if refusal := refuse_early(request):
        return refusal
    self_id = (request.header("x-self-id") or "").strip()
    if not self_id:
        return Response.error(400, "X-Self-ID is required")
    if not (self_id.isascii() and self_id.isdigit()):
        return Response.error(400, "X-Self-ID must be a QQ number")
    logger.append_keys(bot_id=self_id, transport="http_post")
    try:
        secret = onebot_secret()
    except SecretUnavailable as exc:
        logger.error(str(exc))
        return Response.json(503, {"error": "secret unavailable; retry later"})
    if secret:
        signature = request.header("x-signature")
        if not signature:
            return Response.error(401, "X-Signature is required (a secret is configured)")
        if not onebot_verify(secret, request.body, signature):
            return Response.error(403, "X-Signature does not match the body")

    payload, problem = read_json_object(request.body)
    if payload is None:
        return Response.error(400, problem or "bad body")
    try:
        parsed = parse_event(payload)
    except UnknownPayload as exc:
        return Response.error(400, str(exc))
    if parsed.source != "onebot.v11":
        return Response.error(400, "not a OneBot event (no post_type)")
    body_self_id = str(payload.get("self_id"))
    if body_self_id != self_id:
        return Response.error(400, f"X-Self-ID {self_id} does not match self_id {body_self_id}")
    if secret and (refusal := _replayed(getattr(parsed.model, "time", None))):
        return refusal
    if parsed.detail_type == "meta_event.heartbeat":
        count("Heartbeats")
        if not publish_heartbeats():
            return Response(204)
    refusal = publish(
        parsed, payload, bot_id=self_id, event_id=onebot_event_id(request.body), transport="http_post"
    )
    return refusal or Response(204)


def _replayed(when: Any) -> Response | None:
    """The refusal of a signed event whose ``time`` (as its model read it) is outside the window."""
    if replays_allowed():
        return None
    if not isinstance(when, int):
        return Response.error(400, "a signed event needs its 'time' (Unix seconds) to rule out a replay")
    if stale := outside_window(when):
        return Response.error(400, f"event time {when} {stale}")
    return None
