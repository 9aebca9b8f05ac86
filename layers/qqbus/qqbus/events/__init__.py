"""Typed QQ official and OneBot v11 events.

The submodules are imported on demand (``from qqbus.events.qq import GroupAddRobot``) so a
Lambda that handles a QQ event never builds the OneBot models, and the other way round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qqbus.events.parse import ParsedEvent, UnknownPayload, parse_event

__all__ = ["ParsedEvent", "UnknownPayload", "parse_event"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from qqbus.events import parse

        return getattr(parse, name)
    raise AttributeError(f"module 'qqbus.events' has no attribute {name!r}")
