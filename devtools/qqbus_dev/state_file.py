"""What a running ``qqbus dev`` wrote about itself (``.qqbus/dev.json``), for the other commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qqbus_dev.template import REPO_ROOT

STATE_FILE = REPO_ROOT / ".qqbus" / "dev.json"


def read_state(path: Path = STATE_FILE) -> dict[str, Any]:
    """The running stack's endpoints and secrets, or {} when none is running."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
