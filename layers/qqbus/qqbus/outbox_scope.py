"""The Outbox of the run in progress: what ``ev.reply(...)`` and ``current_outbox()`` add to.

A scope holds a ready Outbox (``qqbus.actions.collecting``) or a way to make one on first use
(``collecting_lazily``, what ``@handler`` does): a run that asks for nothing, as every state
handler's, never imports ``qqbus.actions`` and its models, milliseconds of each cold start.
This module imports nothing of qqbus for the same reason; ``qqbus.actions`` types its side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, Protocol, TypeVar


class Flushes(Protocol):
    def flush(self) -> int:
        """Put what was asked for on the bus; how many."""
        ...


OutboxT = TypeVar("OutboxT", bound=Flushes)


class OutboxScope(Generic[OutboxT]):
    """One ``with`` block's Outbox: given, or made when first asked for."""

    __slots__ = ("_make", "made")

    def __init__(self, make: Callable[[], OutboxT]) -> None:
        self._make = make
        #: The Outbox once there is one (None: nothing was asked for in the block).
        self.made: OutboxT | None = None

    def outbox(self) -> OutboxT:
        if self.made is None:
            self.made = self._make()
        return self.made


_current: ContextVar[OutboxScope[Any] | None] = ContextVar("qqbus_outbox", default=None)


def scoped_outbox() -> Any:
    """The Outbox of the block in progress, made now if it was not yet (``current_outbox``).

    Raises
    ------
    RuntimeError
        Outside such a block (a ``@handler`` function's run).
    """
    scope = _current.get()
    if scope is None:
        raise RuntimeError("replies and sends work inside a @handler function (or make an Outbox)")
    return scope.outbox()


@contextmanager
def collecting_lazily(make: Callable[[], OutboxT]) -> Iterator[OutboxScope[OutboxT]]:
    """Make the Outbox ``make()`` returns, once something is asked for in the block, the one
    ``ev.reply(...)`` and friends add to; ``scope.made`` is it afterwards (or None)."""
    scope = OutboxScope(make)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
