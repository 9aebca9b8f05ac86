"""The relay's way onto the bus: batched, retried, spooled, and in order.

``submit`` queues an entry (and waits when the bounded queue is full: backpressure reaches the
websocket reader). One task sends batches of at most 10 entries within the PutEvents size
limit, as soon as a batch is full or ``flush_delay`` after its first entry. Entries that fail
with a retryable code are retried, with exponential backoff and jitter, before anything newer
is sent; entries refused for good are kept in ``rejected.jsonl`` and logged. When a batch still
fails after ``attempts`` tries the bus is taken to be unreachable: that batch and everything
queued behind it go to the on-disk spool, new entries follow them there, and the spool is
drained in order, oldest first, once the bus answers again.

An entry's ``on_accepted`` callback runs once the bus has accepted it; the QQ gateway uses it
to advance the sequence number it resumes from, so anything not yet on the bus is replayed.

Within one PutEvents call the bus accepts or fails each entry independently, so a failed entry
retried later lands after the entries of its own call that succeeded: order is kept between
calls, and within a call only as far as the bus itself keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qqbus.detail import entry_size
from qqbus.publish import MAX_ENTRIES_PER_CALL, MAX_REQUEST_BYTES, EventBridgePublisher, Failed
from qqbus.relay.spool import Spool

log = logging.getLogger("qqbus.relay.publisher")

Callback = Callable[[], None]


@dataclass
class _Item:
    entry: dict[str, Any]
    on_accepted: Callback | None = None
    size: int = 0


@dataclass
class PublisherStats:
    submitted: int = 0
    published: int = 0
    retried: int = 0
    rejected: int = 0
    spooled_total: int = 0
    state: str = "ok"  # ok | retrying | spooling
    last_error: str | None = None


class RelayPublisher:
    def __init__(
        self,
        bus: EventBridgePublisher,
        spool_dir: Path,
        *,
        max_queue: int = 10_000,
        flush_delay: float = 0.05,
        attempts: int = 4,
        retry_base: float = 0.1,
        retry_max: float = 10.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.bus = bus
        self.spool = Spool(spool_dir)
        self.flush_delay = flush_delay
        self.attempts = attempts
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.max_request_bytes = max_request_bytes
        self.stats = PublisherStats()
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(max_queue)
        self._spool_callbacks: dict[int, Callback] = {}  # spool position -> callback
        self._spooled_seen = 0  # entries appended to the spool by this process
        self._spool_base = self.spool.pending  # entries already there at start (no callbacks)
        self._drained = 0
        self._stopping = False
        self._wake = asyncio.Event()
        self._carry: _Item | None = None  # taken from the queue, did not fit the last batch

    # --- producer side ----------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize() + (self._carry is not None)

    async def submit(self, entry: dict[str, Any], on_accepted: Callback | None = None) -> None:
        """Queue ``entry`` for the bus; waits while the queue is full."""
        self.stats.submitted += 1
        if self.spool.pending:  # the bus is behind: keep the order by joining the spool
            self._to_spool([_Item(entry, on_accepted)])
            self._wake.set()
            return
        await self._queue.put(_Item(entry, on_accepted, entry_size(entry)))
        self._wake.set()

    # --- consumer side ----------------------------------------------------------------------

    async def run(self) -> None:
        """Send until ``close()``; then flush what is queued (or spool it)."""
        delays = self._delays()
        while True:
            if self.spool.pending:
                self._spool_queue()
                if await self._drain_spool():
                    delays = self._delays()
                elif not self._stopping:
                    await self._sleep(next(delays))
                if self._stopping and (self.spool.pending or self._queue.empty()):
                    return
                continue
            if self._stopping and self._queue.empty() and self._carry is None:
                return
            batch = await self._next_batch()
            if batch:
                await self._send_with_retries(batch)

    async def close(self, timeout: float = 10.0) -> None:
        """Stop taking work: flush the queue within ``timeout``, spool whatever is left."""
        self._stopping = True
        self._wake.set()
        deadline = time.monotonic() + timeout
        while (not self._queue.empty()) and time.monotonic() < deadline and not self.spool.pending:
            await asyncio.sleep(0.05)
        self._spool_queue()

    # --- internals --------------------------------------------------------------------------

    def _delays(self) -> Any:
        delay = self.retry_base
        while True:
            yield delay * (0.5 + random.random() / 2)
            delay = min(self.retry_max, delay * 2)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _next_batch(self) -> list[_Item]:
        """The next batch: up to 10 entries within the size limit, or what came in ``flush_delay``."""
        if self._carry is not None:
            first, self._carry = self._carry, None
        else:
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=0.2)
            except TimeoutError:
                return []
        batch, size = [first], first.size
        deadline = time.monotonic() + self.flush_delay
        while len(batch) < MAX_ENTRIES_PER_CALL:
            if self._queue.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout=remaining)
                except TimeoutError:
                    break
            else:
                item = self._queue.get_nowait()
            if size + item.size > self.max_request_bytes:
                self._carry = item  # opens the next batch
                break
            batch.append(item)
            size += item.size
        return batch

    async def _attempt(self, items: list[_Item]) -> tuple[list[_Item], list[tuple[_Item, Failed]]]:
        """One PutEvents call: the items still to retry, and those refused for good."""
        results = await asyncio.to_thread(self.bus.put_once, [i.entry for i in items])
        retry: list[_Item] = []
        refused: list[tuple[_Item, Failed]] = []
        for item, failure in zip(items, results, strict=True):
            if failure is None:
                self.stats.published += 1
                if item.on_accepted:
                    item.on_accepted()
            elif failure.retryable:
                retry.append(item)
                self.stats.last_error = f"{failure.code}: {failure.message}"[:300]
            else:
                refused.append((item, failure))
        for item, failure in refused:
            self.stats.rejected += 1
            log.error(
                "the bus refused an entry for good (%s %s); kept in %s",
                failure.code,
                failure.message,
                self.spool.rejected_path,
            )
            self.spool.reject(item.entry, failure.code, failure.message)
        return retry, refused

    async def _send_with_retries(self, batch: list[_Item]) -> None:
        delays = self._delays()
        for attempt in range(self.attempts):
            batch, _ = await self._attempt(batch)
            if not batch:
                self.stats.state = "ok"
                return
            self.stats.retried += len(batch)
            self.stats.state = "retrying"
            if attempt + 1 < self.attempts:
                await asyncio.sleep(next(delays))
        log.warning("bus unreachable after %d attempts (%s): spooling", self.attempts, self.stats.last_error)
        self._to_spool(batch)
        self._spool_queue()

    def _spool_queue(self) -> None:
        items = [self._carry] if self._carry is not None else []
        self._carry = None
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        self._to_spool(items)

    def _to_spool(self, items: list[_Item]) -> None:
        if not items:
            return
        for item in items:
            if item.on_accepted:
                self._spool_callbacks[self._spool_base + self._spooled_seen] = item.on_accepted
            self._spooled_seen += 1
        self.spool.append([i.entry for i in items])
        self.stats.spooled_total += len(items)
        self.stats.state = "spooling"

    async def _drain_spool(self) -> bool:
        """Send the oldest spooled entries once; True if the bus took them."""
        lines = self.spool.peek(MAX_ENTRIES_PER_CALL)
        items: list[_Item] = []
        size = 0
        for _, entry in lines:
            n = entry_size(entry)
            if items and size + n > self.max_request_bytes:
                break
            position = self._drained + len(items)
            items.append(_Item(entry, self._spool_callbacks.pop(position, None), n))
            size += n
        retry, _ = await self._attempt(items)
        # Advance past the accepted (or refused) prefix; what follows a retryable failure is sent
        # again with it (at least once), and keeps its callback.
        done = len(items) if not retry else items.index(retry[0])
        for index in range(done, len(items)):
            callback = items[index].on_accepted
            if callback and any(r is items[index] for r in retry):
                self._spool_callbacks[self._drained + index] = callback
        if done:
            self.spool.advance(lines[done - 1][0], done)
            self._drained += done
            if not self.spool.pending:
                self._drained = 0
                self._spooled_seen = 0
                self._spool_base = 0
                self.stats.state = "ok"
                log.info("spool drained; the bus is back")
        return not retry
