"""Helpers the tests share: paths, the contract table, loading handlers and payloads."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "samples"
SEEDS = SHARED / "seeds"
EVENTS = REPO / "events"
HANDLERS = REPO / "handlers"

#: The public contract of DESIGN.md: handler folder -> (source, detail-type).
CONTRACT: dict[str, tuple[str, str]] = {
    "qq_group_add_robot": ("qq.official", "GROUP_ADD_ROBOT"),
    "qq_group_del_robot": ("qq.official", "GROUP_DEL_ROBOT"),
    "qq_group_msg_reject": ("qq.official", "GROUP_MSG_REJECT"),
    "qq_group_msg_receive": ("qq.official", "GROUP_MSG_RECEIVE"),
    "onebot_private_message": ("onebot.v11", "message.private"),
    "onebot_group_message": ("onebot.v11", "message.group"),
    "onebot_group_upload": ("onebot.v11", "notice.group_upload"),
    "onebot_group_admin": ("onebot.v11", "notice.group_admin"),
    "onebot_group_decrease": ("onebot.v11", "notice.group_decrease"),
    "onebot_group_increase": ("onebot.v11", "notice.group_increase"),
    "onebot_group_ban": ("onebot.v11", "notice.group_ban"),
    "onebot_friend_add": ("onebot.v11", "notice.friend_add"),
    "onebot_group_recall": ("onebot.v11", "notice.group_recall"),
    "onebot_friend_recall": ("onebot.v11", "notice.friend_recall"),
}
#: Handlers that write the groups table.
STATE_WRITERS = {
    "qq_group_add_robot",
    "qq_group_del_robot",
    "qq_group_msg_reject",
    "qq_group_msg_receive",
    "onebot_group_admin",
    "onebot_group_decrease",
    "onebot_group_increase",
    "onebot_group_ban",
}


def load_json(path: Path) -> Any:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (shared/ must sit beside the repository)")
    return json.loads(path.read_text(encoding="utf-8"))


def event_file(name: str) -> dict[str, Any]:
    """The ``events/<name>.json`` payload (what ``sam local invoke`` sends)."""
    return load_json(EVENTS / f"{name}.json")


def load_handler(name: str) -> ModuleType:
    """Import ``handlers/<name>/app.py`` under a unique module name."""
    path = HANDLERS / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"qqbus_handler_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bus_event(source: str, detail_type: str, detail: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An EventBridge event as a rule hands it to Lambda."""
    return {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
        **extra,
    }
