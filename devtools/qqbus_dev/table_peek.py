"""The console's before/after view of a row: a peek at the stack's own moto table.

Two GetItems an event were a sixth of the stack's CPU in a burst, so the row is read from
moto's DynamoDB backend directly when moto's backend registry is where it was checked
(moto 5.2.6: ``moto.backends.get_backend``, ``backend.get_item``, ``Item.to_json``). When it is
not (a moto that moved them, or ``QQBUS_MOTO_SPEEDUPS=off``), it is a consistent GetItem: the
same item, only slower.
"""

from __future__ import annotations

import os
from typing import Any

from qqbus_dev.moto_speedups import enabled


def read_item(
    dynamodb: Any, region: str, table: str, key: dict[str, dict[str, str]]
) -> dict[str, Any] | None:
    """The item a consistent GetItem of ``key`` returns, or None (no item, or no such table)."""
    if enabled():
        peeked = _peek(region, table, key)
        if peeked is not _UNAVAILABLE:
            return peeked  # type: ignore[return-value]
    try:
        got = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
    except dynamodb.exceptions.ResourceNotFoundException:
        return None
    item = got.get("Item")
    return dict(item) if item else None


_UNAVAILABLE = object()


def _peek(region: str, table: str, key: dict[str, dict[str, str]]) -> Any:
    try:
        from moto.backends import get_backend
        from moto.core import DEFAULT_ACCOUNT_ID
    except ImportError:
        return _UNAVAILABLE
    try:
        account = os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
        backend = get_backend("dynamodb")[account][region]  # type: ignore[index]
        if table not in backend.tables:
            return None
        item = backend.get_item(table, key)
        return None if item is None else dict(item.to_json()["Attributes"])
    except (AttributeError, TypeError):  # the registry moved: GetItem instead
        return _UNAVAILABLE
