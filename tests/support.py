"""Helpers the tests share: paths, the contract table, loading handlers and payloads."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "samples"
SEEDS = SHARED / "seeds"
EVENTS = REPO / "events"
HANDLERS = REPO / "handlers"


def _template() -> Any:
    from qqbus_dev.template import Template

    return Template.read(REPO / "template.yaml")


def handler_folders() -> set[str]:
    """Every ``handlers/<name>/`` that holds an ``app.py``."""
    return {p.name for p in HANDLERS.iterdir() if (p / "app.py").exists()}


def _routes() -> dict[str, tuple[str, str, str | None]]:
    """Handler folder -> (source, detail-type, sub_type or None) of the one-type functions."""
    routed = {}
    for fn in _template().event_functions():
        if "detail-type" not in fn.pattern:
            continue  # a whole source (source_handlers)
        (source,) = fn.pattern["source"]
        (detail_type,) = fn.pattern["detail-type"]
        if isinstance(detail_type, str):
            sub_types = fn.pattern.get("detail", {}).get("payload", {}).get("sub_type")
            routed[fn.folder] = (source, detail_type, sub_types[0] if sub_types else None)
    return routed


def routed_handlers() -> dict[str, tuple[str, str]]:
    """Handler folder -> (source, detail-type) of every function a rule sends a whole event type to.

    Read off template.yaml (the one place the routing is written down); the wiring tests check
    that it agrees with ``handlers/`` and ``events/``.
    """
    return {f: (source, dt) for f, (source, dt, sub) in _routes().items() if sub is None}


def sub_type_handlers() -> dict[str, tuple[str, str, str]]:
    """Handler folder -> (source, detail-type, sub_type) of functions that take one sub_type."""
    return {f: (source, dt, sub) for f, (source, dt, sub) in _routes().items() if sub is not None}


def sender_handlers() -> dict[str, tuple[str, str]]:
    """Handler folder -> (source, detail-type prefix) of the functions that take actions."""
    senders = {}
    for fn in _template().event_functions():
        if "detail-type" not in fn.pattern:
            continue
        (source,) = fn.pattern["source"]
        (detail_type,) = fn.pattern["detail-type"]
        if isinstance(detail_type, dict) and "prefix" in detail_type:
            senders[fn.folder] = (source, detail_type["prefix"])
    return senders


def source_handlers() -> dict[str, str]:
    """Handler folder -> source of the functions whose rule takes a source's events whatever
    their type (results with a continuation, schedules coming due), narrowed by ``detail`` only."""
    return {
        fn.folder: fn.pattern["source"][0]
        for fn in _template().event_functions()
        if "detail-type" not in fn.pattern
    }


def _code(folder: str) -> str:
    return (HANDLERS / folder / "app.py").read_text(encoding="utf-8")


def state_writers() -> set[str]:
    """Handlers whose code writes group state (calls ``groups()``)."""
    return {f for f in handler_folders() if re.search(r"\bgroups\(\)", _code(f))}


def users_writers() -> set[str]:
    """Handlers whose code writes user state (calls ``users()``)."""
    return {f for f in handler_folders() if re.search(r"\busers\(\)", _code(f))}


def action_askers() -> set[str]:
    """Handlers whose code asks for actions (replies, sends, commands)."""
    asks = re.compile(r"\bev\.(reply|send_group|send_private|call|resume)\(|\bcommands\.handle\(")
    return {f for f in handler_folders() if asks.search(_code(f))}


#: Derived at import, for parametrisation.
CONTRACT: dict[str, tuple[str, str]] = routed_handlers()
SUB_TYPES: dict[str, tuple[str, str, str]] = sub_type_handlers()
SENDERS: dict[str, tuple[str, str]] = sender_handlers()
SOURCE_HANDLERS: dict[str, str] = source_handlers()
STATE_WRITERS = state_writers()
USERS_WRITERS = users_writers()
ACTION_ASKERS = action_askers()


def load_json(path: Path) -> Any:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing")
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
