"""``qqbus send``: sign a QQ or OneBot payload with the dev secret, POST it, show what became of it.

Accepts a raw platform payload, an EventBridge event from ``events/`` (its ``detail.payload`` is
sent), or a Function URL event (sent as it is). A payload's event time is set to now (so a
stored sample is inside the reply windows; ``--keep-time`` sends it as it is), and each send is a
new event: QQ gets a new envelope ``id`` (and a message a new ``d.id``), a OneBot message a new
``message_id`` (OneBot events have no id: theirs is the body's hash). ``--keep-id`` sends the
file's ids (for OneBot the file's body, time included) to try what a duplicate does. Then it
follows the event through the stack's trace: the functions it reached, the actions they asked for
and their results (``=> pong (passive, msg_seq 1)``); of an event id sent before, only what this
send did (a duplicate: ``duplicate``, nothing it did not do).
"""

from __future__ import annotations

import base64
import json
import secrets as random_ids
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from qqbus.detail import onebot_event_id
from qqbus.signatures import onebot_signature, qq_sign_request

from qqbus_dev.functions import DEV_ONEBOT_SECRET, DEV_QQ_APPID, DEV_QQ_SECRET
from qqbus_dev.state_file import read_state

#: Where the stack serves each ingress function.
INGRESS_PATHS = {"qq_webhook": "/qq/webhook", "onebot_http": "/onebot"}


def event_id_of(path: str, body: bytes) -> str | None:
    """The event id the ingress gives this request's event (QQ: the envelope id; OneBot: the hash)."""
    if path.rstrip("/") == INGRESS_PATHS["onebot_http"]:
        return onebot_event_id(body)
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return str(data["id"]) if isinstance(data, dict) and isinstance(data.get("id"), str) else None


DEFAULT_HTTP = "http://127.0.0.1:3000"


@dataclass
class Prepared:
    path: str
    body: bytes
    headers: dict[str, str]


def refresh_time(payload: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """A copy of ``payload`` with its event time set to ``now`` (QQ ``d.timestamp``, OneBot ``time``)."""
    now = time.time() if now is None else now
    payload = json.loads(json.dumps(payload))
    d = payload.get("d")
    if isinstance(d, dict) and "timestamp" in d:
        if isinstance(d["timestamp"], str):  # message events: RFC 3339, as QQ sends them
            d["timestamp"] = datetime.fromtimestamp(now, timezone(timedelta(hours=8))).isoformat(
                timespec="seconds"
            )
        else:
            d["timestamp"] = int(now)
    elif "post_type" in payload and "time" in payload:
        payload["time"] = int(now)
    return payload


def refresh_id(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` as a new event: QQ a new envelope ``id`` (``<t>:<uuid>``, as QQ's) and,
    for a message, a new ``d.id``; a OneBot message a new ``message_id``."""
    payload = json.loads(json.dumps(payload))
    if "op" in payload and isinstance(payload.get("id"), str):
        payload["id"] = f"{payload.get('t') or 'EVENT'}:{uuid.uuid4()}"
        d = payload.get("d")
        if isinstance(d, dict) and isinstance(d.get("id"), str) and "content" in d:
            d["id"] = f"ROBOT1.0_{random_ids.token_urlsafe(48)}"
    elif payload.get("post_type") == "message" and "message_id" in payload:
        payload["message_id"] = random_ids.randbelow(2**31 - 1) + 1  # int32, as implementations send
    return payload


def prepare(
    raw: bytes,
    *,
    qq_appid: str | None = None,
    qq_secret: str | None = None,
    onebot_secret: str | None = None,
    fresh_time: bool = False,
    fresh_id: bool | None = None,
    state: dict[str, Any] | None = None,
) -> Prepared:
    """The request that delivers the payload in ``raw``, signed as the platform would sign it.

    ``fresh_time``: the event time set to now. ``fresh_id``: True, a new event (``refresh_id``);
    False, the file's event id exactly (for OneBot, whose id is the body's hash, the time too);
    None, the ids as they are. ``state``: the running stack's (default: ``read_state()``).
    """
    state = read_state() if state is None else state
    data = json.loads(raw)
    if isinstance(data, dict) and "requestContext" in data and "body" in data:
        body = base64.b64decode(data["body"]) if data.get("isBase64Encoded") else str(data["body"]).encode()
        path = data.get("rawPath") or "/"
        return Prepared(path, body, dict(data.get("headers") or {}))
    bot_id = None
    if isinstance(data, dict) and isinstance(data.get("detail"), dict) and "payload" in data["detail"]:
        bot_id = data["detail"].get("bot_id")
        data = data["detail"]["payload"]
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if not isinstance(data, dict):
        raise ValueError("the payload is not a JSON object")
    if fresh_id is False and "post_type" in data:
        fresh_time = False  # a OneBot event's id is its body's hash: a new time is a new event
    if fresh_time or fresh_id:
        data = refresh_time(data) if fresh_time else data
        data = refresh_id(data) if fresh_id else data
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if "post_type" in data:
        headers["X-Self-ID"] = str(data.get("self_id", bot_id or ""))
        secret = onebot_secret if onebot_secret is not None else state.get("onebot_secret", DEV_ONEBOT_SECRET)
        if secret:
            headers["X-Signature"] = onebot_signature(secret, raw)
        return Prepared(INGRESS_PATHS["onebot_http"], raw, headers)
    if "op" in data:
        appid = qq_appid or bot_id or state.get("qq_appid") or DEV_QQ_APPID
        secret = qq_secret or state.get("qq_secret") or DEV_QQ_SECRET
        timestamp = str(int(time.time()))
        headers.update(
            {
                "User-Agent": "QQBot-Callback",
                "X-Bot-Appid": str(appid),
                "X-Signature-Timestamp": timestamp,
                "X-Signature-Ed25519": qq_sign_request(secret, timestamp, raw),
            }
        )
        return Prepared(INGRESS_PATHS["qq_webhook"], raw, headers)
    raise ValueError("neither a OneBot event (post_type) nor a QQ payload (op)")


def post(base_url: str, prepared: Prepared, timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(
        base_url.rstrip("/") + prepared.path, data=prepared.body, headers=prepared.headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def get_trace(base_url: str, event_id: str) -> dict[str, Any] | None:
    """The stack's trace of ``event_id`` (``GET /_trace/<event_id>``), or None."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/_trace/{event_id}", timeout=5) as response:
            trace = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return trace if isinstance(trace, dict) else None


def _step_key(step: dict[str, Any]) -> tuple[Any, ...]:
    return step.get("kind"), step.get("line"), step.get("at")


def follow(
    base_url: str,
    event_id: str,
    timeout: float,
    out: Any = None,
    *,
    before: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Wait until the stack's trace of ``event_id`` settles (or ``timeout``), then print its lines.

    ``before``: the trace as it was before this send (the id was sent before): only the steps
    this send added count and are printed, never an earlier run's reply.
    """
    out = out or sys.stdout
    old = {_step_key(s) for s in (before or {}).get("steps", [])}
    deadline = time.monotonic() + timeout
    trace: dict[str, Any] | None = None
    new: list[dict[str, Any]] = []
    settled_at: float | None = None
    while time.monotonic() < deadline:
        trace = get_trace(base_url, event_id)
        new = [s for s in (trace or {}).get("steps", []) if _step_key(s) not in old]
        reached = any(  # this send reached a function (or the catch-all), not only an earlier one
            s.get("kind") in ("invocation", "unhandled", "refused") and "action_id" not in s.get("data", {})
            for s in new
        )
        if trace is not None and trace.get("settled") and reached:
            settled_at = settled_at or time.monotonic()
            if time.monotonic() - settled_at > 0.3:  # a moment for late steps
                break
        else:
            settled_at = None
        time.sleep(0.1)
    if old:
        print(f"(event {event_id} was sent before: only what this send did is shown)", file=out)
    ours = Counter(s.get("line") for s in new)
    for line in (trace or {}).get("lines", []):  # the trace's order, this send's lines only
        if ours[line] > 0:
            ours[line] -= 1
            print(line, file=out)
    if settled_at is None:
        print(f"(still going after {timeout:.0f} s; the `make dev` terminal shows the rest)", file=out)
    return trace


def run(
    path: str,
    url: str | None = None,
    *,
    keep_time: bool = False,
    keep_id: bool = False,
    wait: float = 10.0,
    state_file: Path | None = None,
    **secrets: Any,
) -> int:
    """``qqbus send``: 0 sent, 1 the stack refused it, 2 nothing to send or no stack."""
    state = read_state(state_file) if state_file else {}
    try:
        raw = Path(path).read_bytes()
        prepared = prepare(raw, fresh_time=not keep_time, fresh_id=not keep_id, state=state, **secrets)
    except OSError as exc:
        print(f"qqbus send: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:  # not JSON, or not an event
        print(f"qqbus send: {path} is not an event to send: {exc}", file=sys.stderr)
        return 2
    base = url or state.get("http") or DEFAULT_HTTP
    event_id = event_id_of(prepared.path, prepared.body)
    before = get_trace(base, event_id) if event_id and wait > 0 else None
    try:
        status, body = post(base, prepared)
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        print(f"qqbus send: no stack answers at {base} ({reason}): start it with `make dev`", file=sys.stderr)
        return 2
    print(f"{status} {body.decode('utf-8', 'replace')}".rstrip(), flush=True)
    if status < 400 and wait > 0 and event_id:
        follow(base, event_id, wait, before=before)
    return 0 if status < 400 else 1
