"""The console's live feed: numbered messages that every open page follows (Server-Sent Events).

Producers (the trace's listeners, the sandbox, the stack's worker threads) ``publish``; each
page's SSE connection waits in ``since`` for what is newer than the last id it saw. A page that
fell behind the kept window gets a ``reset`` and reloads its snapshot, so nothing is missed
silently. Every message is an upsert (a trace by event id, a chat entry by its id), so seeing one
twice (snapshot, then the feed) is harmless.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

#: Messages kept for pages that reconnect (EventSource sends ``Last-Event-ID``).
KEEP = 2000


@dataclass(frozen=True)
class Message:
    id: int
    kind: str  # trace | chat | sandbox | state | failures | reset
    data: Any


class Feed:
    """Thread-safe; ``since`` blocks until there is news, a timeout, or ``close``."""

    def __init__(self, keep: int = KEEP) -> None:
        self._messages: deque[Message] = deque(maxlen=keep)
        self._cond = threading.Condition()
        self._last = 0
        self.closed = False

    @property
    def last_id(self) -> int:
        with self._cond:
            return self._last

    def publish(self, kind: str, data: Any) -> int:
        with self._cond:
            self._last += 1
            self._messages.append(Message(self._last, kind, data))
            self._cond.notify_all()
            return self._last

    def since(self, after: int, timeout: float) -> list[Message]:
        """Messages newer than ``after``; waits up to ``timeout`` s for one. ``[]`` on timeout."""
        with self._cond:
            if after > self._last:  # an id from an earlier stack: this one starts afresh
                return [Message(self._last, "reset", None)]
            self._cond.wait_for(lambda: self.closed or self._last > after, timeout)
            if self._last <= after:
                return []
            if self._messages and self._messages[0].id > after + 1:  # some were dropped: start over
                return [Message(self._last, "reset", None)]
            return [m for m in self._messages if m.id > after]

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
