"""Configuration values with one shape for one bot or many: a value, or a JSON object by bot id."""

from __future__ import annotations

import json
from typing import Any


def value_or_map(raw: str, what: str) -> str | dict[str, Any]:
    """``raw`` (stripped) as it is, or the JSON object it spells when it starts with ``{``.

    Raises
    ------
    ValueError
        When it starts with ``{`` but is not valid JSON (the message names ``what``).
    """
    stripped = raw.strip()
    if not stripped.startswith("{"):
        return stripped
    try:
        parsed: dict[str, Any] = json.loads(stripped)  # text that opens with "{" is an object or invalid
    except ValueError as exc:
        raise ValueError(f"{what} is not valid JSON") from exc
    return parsed
