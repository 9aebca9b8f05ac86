"""The state tables as the console shows them: every attribute a row has, times made readable.

Rows are rendered generically (whatever fields a handler writes show up, in a sensible order),
so a new attribute needs no change here. A number in a field named ``*_at`` or ``*_until`` is a
time: Unix seconds, or milliseconds when it is too large to be seconds; it is shown in the local
time zone, and a ``*_until`` in the past is marked expired (``muted_until`` 9999-12-31 is "until
lifted").
"""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from qqbus.state import MUTED_UNTIL_LIFTED

#: Columns first when a table has them; the rest follow alphabetically.
LEADING = ("bot_id", "group_id", "user_id", "protocol", "member", "proactive", "reply_event_id")
#: Timestamps above this are milliseconds (1e11 s is the year 5138).
_MS_ABOVE = 10**11
MAX_ROWS = 500


def plain(value: Any) -> Any:
    """A deserialized DynamoDB value with its Decimals made int or float (for JSON)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain(v) for v in value]
    return value


def item_to_row(item: dict[str, Any]) -> dict[str, Any]:
    """A raw DynamoDB item (``{"S": ...}`` values) as plain values."""
    from boto3.dynamodb.types import TypeDeserializer

    de = TypeDeserializer()
    return {k: plain(de.deserialize(v)) for k, v in item.items()}


def is_time_field(name: str) -> bool:
    return name.endswith(("_at", "_until"))


def format_time(value: int | float) -> str:
    """``2024-06-10 14:00:35 CST``: local time, seconds or milliseconds."""
    seconds = value / 1000 if value > _MS_ABOVE else value
    return datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _relative(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"


def cell(name: str, value: Any, now: float | None = None) -> dict[str, Any]:
    """``{"text", "note"}`` for one attribute; ``note`` is ``expired``, ``in 9 min``, ... or None."""
    now = time.time() if now is None else now
    if isinstance(value, bool):
        return {"text": str(value).lower(), "note": None}
    if isinstance(value, int | float) and is_time_field(name):
        if name.endswith("_until") and value >= MUTED_UNTIL_LIFTED:
            return {"text": "until lifted", "note": None}
        text = format_time(value)
        if name.endswith("_until"):
            seconds = (value / 1000 if value > _MS_ABOVE else value) - now
            return {"text": text, "note": "expired" if seconds <= 0 else f"in {_relative(seconds)}"}
        return {"text": text, "note": None}
    if value is None:
        return {"text": "-", "note": None}
    return {"text": str(value), "note": None}


def columns(rows: list[dict[str, Any]]) -> list[str]:
    names = {k for row in rows for k in row}
    return [c for c in LEADING if c in names] + sorted(names - set(LEADING))


def render(name: str, rows: list[dict[str, Any]], now: float | None = None) -> dict[str, Any]:
    """A table for the page: its columns and, per row, the raw values and their cells."""
    cols = columns(rows)
    return {
        "name": name,
        "columns": cols,
        "rows": [
            {"values": row, "cells": {c: cell(c, row[c], now) for c in cols if c in row}} for row in rows
        ],
    }


def scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Up to ``MAX_ROWS`` rows of ``table``, sorted by their key attributes' text."""
    rows: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        rows += [item_to_row(item) for item in page.get("Items", [])]
        if len(rows) >= MAX_ROWS:
            break
    return sorted(rows[:MAX_ROWS], key=lambda r: tuple(str(r.get(c, "")) for c in LEADING[:3]))
