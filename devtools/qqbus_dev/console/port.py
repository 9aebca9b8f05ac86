"""What the console needs of a running stack: one narrow, typed interface the stack implements.

The console never reaches into the stack's own members: it says lines, submits platform
payloads to the stack's ingress, reads the trace, drives the fake APIs, lists the bots
connected through the relay, and peeks at a row. ``qqbus_dev.stack.LocalStack`` is the one
implementation; the console's tests may bring their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from qqbus_dev.fake_apis import FakeApi
    from qqbus_dev.functions import LocalFunction
    from qqbus_dev.template import Template
    from qqbus_dev.trace import Trace


@dataclass(frozen=True)
class ConnectedBot:
    """A real bot the stack's relay holds a connection for."""

    protocol: Literal["qq", "onebot"]
    id: str
    via: str  # "reverse WebSocket" | "QQ gateway"


@dataclass
class Posted:
    """What the ingress answered to a post."""

    status: int
    body: str
    event_id: str | None


class StackPort(Protocol):
    """The running stack, as the console sees it."""

    # Read-only facts (properties: the console never sets them).
    @property
    def host(self) -> str:
        """Where the stack binds (the console refuses other Host headers)."""

    @property
    def http_url(self) -> str: ...

    @property
    def bus_name(self) -> str: ...

    @property
    def template(self) -> Template: ...

    @property
    def queue_urls(self) -> Mapping[str, str]:
        """Logical id -> URL of the template's queues."""

    @property
    def tables(self) -> Mapping[str, str]:
        """Logical id -> name of the template's tables."""

    @property
    def functions(self) -> Mapping[str, LocalFunction]: ...

    @property
    def trace(self) -> Trace: ...

    @property
    def fakes(self) -> Mapping[str, FakeApi]:
        """The fake platform APIs by name (``qq``, ``onebot``)."""

    def say(self, line: str) -> None:
        """A line on the stack's terminal."""

    def submit(
        self, payload: dict[str, Any], *, qq_appid: str | None, before: Callable[[str | None], None]
    ) -> Posted:
        """Sign ``payload`` as its platform would and post it to the ingress; ``before(event_id)``
        runs once the event id is known, before the post."""
        ...

    def connected_bots(self) -> list[ConnectedBot]:
        """Bots connected through the relay now."""
        ...

    def peek(self, table: str, key: dict[str, dict[str, str]]) -> dict[str, Any] | None:
        """The item of ``key`` in ``table`` as a consistent GetItem returns it, or None."""
        ...
