"""The EventBridge contract: the ``detail`` every qqbus event carries, and its PutEvents entry.

``detail`` is ``{"bot_id", "event_id", "transport", "received_at", "payload"}``; ``payload`` is
the platform's JSON exactly as received, so handlers never know how an event arrived. What a
handler receives (``Delivered``, the detail with a typed payload) is ``qqbus.handler``'s.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Transport = Literal["webhook", "websocket", "http_post", "reverse_ws"]
TRANSPORTS: tuple[str, ...] = ("webhook", "websocket", "http_post", "reverse_ws")
#: PutEvents refuses a DetailType longer than this.
MAX_DETAIL_TYPE_CHARS = 128
#: Control characters (C0, DEL, C1): no event type has one, and the bus cannot route it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class BusEvent(BaseModel):
    """The EventBridge event a rule hands to a Lambda target."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    version: str = "0"
    id: str = ""
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str = ""
    time: str = ""
    region: str = ""
    # A plain default (pydantic copies it per instance): default_factory=list would make pydantic
    # inspect list's signature at import, a tokenizer regex compiled in every cold start.
    resources: list[str] = []
    detail: dict[str, Any]
    replay_name: str | None = Field(default=None, alias="replay-name")


def onebot_event_id(raw_body: bytes) -> str:
    """OneBot events have no id: a stable hash of the raw body, so a resend has the same id."""
    return hashlib.sha256(raw_body).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


def build_detail(
    *,
    bot_id: str,
    event_id: str,
    transport: Transport,
    payload: Any,
    received_at: int | None = None,
) -> dict[str, Any]:
    """The contract's detail object."""
    return {
        "bot_id": str(bot_id),
        "event_id": event_id,
        "transport": transport,
        "received_at": now_ms() if received_at is None else received_at,
        "payload": payload,
    }


def json_text(data: Any) -> str:
    """Compact JSON with non-ASCII kept (entries stay small), always encodable as UTF-8.

    A lone surrogate (``"\\ud83d"``: JS-based OneBot implementations emit one when they cut an
    emoji in half) cannot be written as UTF-8; it is written back as the ``\\u`` escape it
    arrived as, so the payload stays exactly as received and the text stays valid JSON.
    """
    return utf8_safe(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def utf8_safe(text: str) -> str:
    """``text`` with each lone surrogate as its ``\\uXXXX`` escape: UTF-8 can encode the result.

    Inside JSON text the escape means the same character, so JSON stays equivalent; in a log
    line or an answer it keeps one stray character from making the whole line unwritable.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def build_entry(
    *,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    bus_name: str,
) -> dict[str, Any]:
    """One PutEvents entry; ``Detail`` is ``json_text`` of ``detail``."""
    return {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json_text(detail),
        "EventBusName": bus_name,
    }


def detail_type_problem(detail_type: str) -> str | None:
    """Why ``detail_type`` (an event's type) cannot be an entry's DetailType, or None if it can.

    Every door refuses such an event (HTTP ingress with 400, the relay drops the frame): the bus
    would refuse the entry, or a rule could never match it. Too long for PutEvents; a lone
    surrogate, which is not Unicode; a control character, which EventBridge's delivery of the
    event refuses (and which would break the log line that names the type).
    """
    if len(detail_type) > MAX_DETAIL_TYPE_CHARS:
        return f"event type {detail_type[:40]!r}... is over the bus's {MAX_DETAIL_TYPE_CHARS} characters"
    if utf8_safe(detail_type) != detail_type:
        return f"event type {detail_type!r} is not valid Unicode (a lone surrogate)"
    if _CONTROL.search(detail_type):
        return f"event type {detail_type!r} has a control character"
    return None


def event_entry(
    *,
    source: str,
    detail_type: str,
    bot_id: str,
    event_id: str,
    transport: Transport,
    payload: Any,
    bus_name: str,
) -> dict[str, Any]:
    """The PutEvents entry of one platform event: ``build_detail`` inside ``build_entry``."""
    detail = build_detail(bot_id=bot_id, event_id=event_id, transport=transport, payload=payload)
    return build_entry(source=source, detail_type=detail_type, detail=detail, bus_name=bus_name)
