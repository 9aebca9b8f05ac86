"""``qqbus groups``: the groups table, as a text table or JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from qqbus.state import MUTED_UNTIL_LIFTED

COLUMNS = (
    "bot_id",
    "group_id",
    "protocol",
    "member",
    "proactive",
    "muted_until",
    "group_muted_until",
    "bot_admin",
    "reply_event_id",
)


USER_COLUMNS = ("bot_id", "user_id", "protocol", "friend", "proactive", "reply_event_id")


def readable_time(value: int, now: float | None = None) -> str:
    """Unix seconds as local time with its UTC offset, marked when it has passed."""
    if value >= MUTED_UNTIL_LIFTED:
        return "until lifted"
    text = datetime.fromtimestamp(value).astimezone().strftime("%Y-%m-%d %H:%M %z")
    return text + (" (expired)" if value <= (time.time() if now is None else now) else "")


def _cell(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name in ("muted_until", "group_muted_until"):
        return readable_time(int(value))
    if name == "reply_event_id" and len(str(value)) > 28:
        return str(value)[:25] + "..."
    return str(value).lower() if isinstance(value, bool) else str(value)


def render(states: Sequence[Any], as_json: bool = False, columns: tuple[str, ...] = COLUMNS) -> str:
    """Rows of the groups table (or, with ``USER_COLUMNS``, of the users table) for people."""
    if as_json:
        return json.dumps([{k: v for k, v in asdict(s).items() if v is not None} for s in states], indent=2)
    if not states:
        return "(no rows yet)"
    rows = [list(columns)] + [[_cell(c, getattr(s, c)) for c in columns] for s in states]
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
