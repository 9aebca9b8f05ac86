"""The QQ official HTTP callback: op 13 URL validation, and signed op 0 dispatches to the bus.

Order of checks: size (413); the signature over the exact bytes, when the headers are present
(401): ``X-Signature-Timestamp`` must be digits (Unix seconds) and, once the signature holds,
inside the replay window (``qqbus.ingress.replay``: at most a day old, five minutes ahead);
the body (400); op 13 is answered without a signature (the answer itself proves the secret);
any other op needs the signature (401). Then the dispatch goes on the bus and is acknowledged
with ``{"op": 12, "d": 0}``; if the bus refuses it the answer is 503 so that the platform
sends it again, or a 4xx if it can never take it (``qqbus.ingress.bus``). Several bots share
one endpoint: ``X-Bot-Appid`` chooses the secret, and an AppID that no configured secret
names is refused (401), since the header itself is not signed.

A lone surrogate escape in the body (``"\\ud83d"``, a cut emoji) is accepted: the payload goes
on the bus as received. One in the type ``t`` is refused (400), as is a control character
there: it cannot be routed.
"""

from __future__ import annotations

from qqbus.detail import onebot_event_id
from qqbus.events.parse import UnknownPayload, parse_event
from qqbus.ingress.bus import publish
from qqbus.ingress.function_url import Request, Response, refuse_early
from qqbus.ingress.replay import outside_window
from qqbus.json_body import read_json_object
from qqbus.observability import logger, note
from qqbus.secrets import SecretUnavailable, qq_secret
from qqbus.signatures import EVENT_TS, SignatureError, qq_validation_answer, qq_verify

ACK = {"op": 12, "d": 0}


def handle(request: Request) -> Response:
    if refusal := refuse_early(request):
        return refusal
    app_id = (request.header("x-bot-appid") or "").strip()
    logger.append_keys(bot_id=app_id or None, transport="webhook")
    try:
        secret = qq_secret(app_id)
    except SecretUnavailable as exc:
        logger.error(str(exc))
        return Response.json(503, {"error": "bot secret unavailable; retry later"})
    signature = request.header("x-signature-ed25519")
    timestamp = request.header("x-signature-timestamp")
    verified = False
    if signature is not None or timestamp is not None:
        refusal = _verify(request, app_id, secret, signature, timestamp)
        if refusal:
            return refusal
        verified = True

    payload, problem = read_json_object(request.body)
    if payload is None:
        return Response.error(400, problem or "bad body")
    op = payload.get("op")
    if op == 13:
        return _validate_url(payload, app_id, secret)
    if not verified:
        return Response.error(401, "X-Signature-Ed25519 and X-Signature-Timestamp are required")
    if op != 0:
        return Response.error(400, f"op {op!r} is not a dispatch (op 0) or a URL validation (op 13)")
    try:
        parsed = parse_event(payload)
    except UnknownPayload as exc:
        return Response.error(400, str(exc))
    event_id = payload.get("id") if isinstance(payload.get("id"), str) and payload.get("id") else None
    refusal = publish(
        parsed,
        payload,
        bot_id=app_id,
        event_id=event_id or onebot_event_id(request.body),
        transport="webhook",
    )
    return refusal or Response.json(200, ACK)


def _verify(
    request: Request, app_id: str, secret: str | None, signature: str | None, timestamp: str | None
) -> Response | None:
    if not signature or not timestamp:
        return Response.error(401, "X-Signature-Ed25519 and X-Signature-Timestamp must both be present")
    if secret is None:
        return _no_secret(app_id)
    timestamp = timestamp.strip()
    if not EVENT_TS.fullmatch(timestamp):
        return Response.error(401, "X-Signature-Timestamp must be Unix seconds (digits only)")
    try:
        good = qq_verify(secret, timestamp, request.body, signature.strip())
    except SignatureError as exc:
        return Response.error(401, f"malformed signature: {exc}")
    if not good:
        return Response.error(401, "signature does not match the body")
    if stale := outside_window(int(timestamp)):
        return Response.error(401, f"X-Signature-Timestamp {timestamp} {stale}")
    return None


def _no_secret(app_id: str) -> Response:
    if not app_id:
        return Response.error(401, "X-Bot-Appid is required to choose the bot's secret")
    return Response.error(401, "no secret is configured for this AppID", f"no secret for AppID {app_id!r}")


def _validate_url(payload: dict[str, object], app_id: str, secret: str | None) -> Response:
    data = payload.get("d")
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("plain_token"), str)
        or not isinstance(data.get("event_ts"), str)
    ):
        return Response.error(400, "op 13 needs d.plain_token and d.event_ts as strings")
    if secret is None:
        return _no_secret(app_id)
    try:
        answer = qq_validation_answer(secret, data["plain_token"], data["event_ts"])
    except SignatureError as exc:
        return Response.error(400, f"refusing to sign: {exc}")
    note("answered URL validation (op 13)")
    return Response.json(200, answer)
