"""``qqbus send``: sign a QQ or OneBot payload with the dev secret and POST it to the stack.

Accepts a raw platform payload (its exact bytes are sent), an EventBridge event from
``events/`` (its ``detail.payload`` is sent), or a Function URL event (sent as it is).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qqbus.local.functions import DEV_ONEBOT_SECRET, DEV_QQ_APPID, DEV_QQ_SECRET
from qqbus.local.stack import INGRESS_PATHS
from qqbus.local.state_file import read_state
from qqbus.signatures import onebot_signature, qq_sign_request

DEFAULT_HTTP = "http://127.0.0.1:3000"


@dataclass
class Prepared:
    path: str
    body: bytes
    headers: dict[str, str]


def prepare(
    raw: bytes, *, qq_appid: str | None = None, qq_secret: str | None = None, onebot_secret: str | None = None
) -> Prepared:
    """The request that delivers the payload in ``raw``, signed as the platform would sign it."""
    state = read_state()
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


def run(path: str, url: str | None = None, **secrets: Any) -> int:
    prepared = prepare(Path(path).read_bytes(), **secrets)
    base = url or read_state().get("http") or DEFAULT_HTTP
    status, body = post(base, prepared)
    print(f"{status} {body.decode('utf-8', 'replace')}".rstrip())
    return 0 if status < 400 else 1
