"""The EventBridge contract: the ``detail`` every qqbus event carries, and its PutEvents entry.

``detail`` is ``{"bot_id", "event_id", "transport", "received_at", "payload"}``; ``payload`` is
the platform's JSON exactly as received, so handlers never know how an event arrived.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Transport = Literal["webhook", "websocket", "http_post", "reverse_ws"]
TRANSPORTS: tuple[str, ...] = ("webhook", "websocket", "http_post", "reverse_ws")

P = TypeVar("P")


class Delivered(BaseModel, Generic[P]):
    """An event as a handler receives it: the contract's detail with a typed ``payload``."""

    model_config = ConfigDict(extra="allow")

    bot_id: str = Field(description="QQ AppID, or the OneBot self_id as a string")
    event_id: str = Field(description="QQ envelope id; for OneBot a hash of the raw body")
    transport: str = Field(description="How it arrived", examples=list(TRANSPORTS))
    received_at: int = Field(description="When the ingress received it (Unix milliseconds)")
    payload: P


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
    resources: list[str] = Field(default_factory=list)
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


def build_entry(
    *,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    bus_name: str,
) -> dict[str, Any]:
    """One PutEvents entry; ``Detail`` is compact JSON (non-ASCII kept, so entries stay small)."""
    return {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, ensure_ascii=False, separators=(",", ":")),
        "EventBusName": bus_name,
    }


def entry_size(entry: dict[str, Any]) -> int:
    """The size EventBridge counts for an entry: UTF-8 Source, DetailType, Detail, 14 for Time.

    ``surrogatepass``: a lone surrogate escape in a payload (a JS implementation that cut an
    emoji in half) is counted, not fatal.
    """
    fields = ("Source", "DetailType", "Detail")
    return 14 + sum(len(str(entry.get(k, "")).encode("utf-8", "surrogatepass")) for k in fields)


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
