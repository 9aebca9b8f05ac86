"""The QQ official HTTP callback: op 13 URL validation, and signed op 0 dispatches to the bus.

Order of checks: size (413); the signature over the exact bytes, when the headers are present
(401); the body (400); op 13 is answered without a signature (the answer itself proves the
secret); any other op needs the signature (401). Then the dispatch goes on the bus and is
acknowledged with ``{"op": 12, "d": 0}``; if the bus refuses it the answer is 503, so the
platform sends it again. Several bots share one endpoint: the secret is chosen by
``X-Bot-Appid``.
"""

from __future__ import annotations

from qqbus.detail import onebot_event_id
from qqbus.events.parse import UnknownPayload, parse_event
from qqbus.ingress.bus import publish
from qqbus.ingress.http import Request, Response, read_json_object, refuse_early
from qqbus.observability import logger
from qqbus.secrets import SecretUnavailable, qq_secret
from qqbus.signatures import SignatureError, qq_validation_answer, qq_verify

ACK = {"op": 12, "d": 0}


def handle(request: Request) -> Response:
    if refusal := refuse_early(request):
        return refusal
    app_id = (request.header("x-bot-appid") or "").strip()
    logger.append_keys(bot_id=app_id or None, transport="webhook")
    try:
        secret = qq_secret(app_id or None)
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
    failed = publish(
        parsed,
        payload,
        bot_id=app_id,
        event_id=event_id or onebot_event_id(request.body),
        transport="webhook",
    )
    if failed:
        return Response.json(503, {"error": f"event not accepted by the bus ({failed.code}); retry"})
    return Response.json(200, ACK)


def _verify(
    request: Request, app_id: str, secret: str | None, signature: str | None, timestamp: str | None
) -> Response | None:
    if not signature or not timestamp:
        return Response.error(401, "X-Signature-Ed25519 and X-Signature-Timestamp must both be present")
    if not app_id:
        return Response.error(401, "X-Bot-Appid is required to choose the bot's secret")
    if secret is None:
        return Response.error(
            401, "no secret is configured for this AppID", f"no secret for AppID {app_id!r}"
        )
    try:
        good = qq_verify(secret, timestamp.strip(), request.body, signature.strip())
    except SignatureError as exc:
        return Response.error(401, f"malformed signature: {exc}")
    if not good:
        return Response.error(401, "signature does not match the body")
    return None


def _validate_url(payload: dict[str, object], app_id: str, secret: str | None) -> Response:
    data = payload.get("d")
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("plain_token"), str)
        or not isinstance(data.get("event_ts"), str)
    ):
        return Response.error(400, "op 13 needs d.plain_token and d.event_ts as strings")
    if secret is None:
        return Response.error(
            401, "no secret is configured for this AppID", f"no secret for AppID {app_id!r}"
        )
    try:
        answer = qq_validation_answer(secret, data["plain_token"], data["event_ts"])
    except SignatureError as exc:
        return Response.error(400, f"refusing to sign: {exc}")
    logger.info("answered URL validation (op 13)")
    return Response.json(200, answer)
