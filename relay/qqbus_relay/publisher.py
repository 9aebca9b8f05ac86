"""The relay's way onto the bus: batched, several calls at a time, retried, spooled.

``submit`` queues an entry (and waits when the bounded queue is full: backpressure reaches the
websocket reader). Batches of at most 10 entries within the PutEvents size limit go out as soon
as a call slot is free: up to ``max_in_flight`` PutEvents calls at a time (each in a daemon
thread, ``blocking``), so a relay that raises it is not held to one round trip per 10 entries,
and what is queued while the calls are out fills the next batches (``flush_delay``, 0 by
default, can make a batch wait for more). Entries that fail with a retryable code are retried,
with exponential backoff and jitter, and no new batch starts until that retry is over; entries
refused for good (or too large ever to be put) are kept in ``rejected.jsonl`` and logged. When a
batch still fails after ``attempts`` tries the bus is taken to be unreachable: once the other
calls out have ended (on the bus, or out of tries too), the batches that gave up, oldest first,
and everything queued behind them go to the on-disk spool, new entries follow them there, and
the spool is drained in order, oldest first, one call at a time, once the bus answers again.
An unreachable bus is loud: an ERROR line when it starts, another every ``complain_every``
seconds while it lasts, and ``healthy`` is False (``/health`` answers 503).

Every entry's ``on_done(outcome)`` runs exactly once, when the relay is done with it:

- ``published``: the bus accepted it;
- ``rejected``: the bus refused it for good (kept in ``rejected.jsonl``);
- ``spooled``: it is fsynced in the spool, which this process or the next one drains;
- ``dropped``: the spool was full (``max_spool_bytes``): it is kept nowhere.

The QQ gateway uses it to move the seq it resumes from, so what is not yet safe is replayed by
the server and nothing safe is asked for again. In memory there are at most ``max_queue``
entries and callbacks (plus the batches out): a spooled entry carries none.

Order: calls out together land in any order (delivery is at least once and unordered, as
EventBridge's is); with ``max_in_flight=1`` order is kept between calls, and within one call the
bus accepts or fails each entry independently, so a retried entry lands after the entries its
call put. The default, 4, is for a bus across a network, where a call is mostly waiting; a bus
in this process (moto, in ``qqbus dev`` and the soak test) does its work in the call threads,
and more than one of those starves the websocket loop of the interpreter: it runs with 1. The
QQ gateway resumes from the lowest seq not yet settled, so acks coming back out of order never
skip an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qqbus.publish import MAX_ENTRIES_PER_CALL, MAX_REQUEST_BYTES, EventBridgePublisher, Failed, entry_size

from qqbus_relay.blocking import call_in_daemon_thread
from qqbus_relay.spool import DEFAULT_MAX_BYTES, Spool

log = logging.getLogger("qqbus_relay.publisher")

Outcome = Literal["published", "rejected", "spooled", "dropped"]

#: PutEvents calls out at a time. Four by default: at a 30 ms round trip one call at a time
#: carries at most ~330 events/s. One (``--max-in-flight 1``) keeps order between calls, and is
#: what a bus in this process needs (see "Order" above).
DEFAULT_MAX_IN_FLIGHT = 4
MAX_IN_FLIGHT = 32
OnDone = Callable[[Outcome], None]


@dataclass(eq=False)
class _Item:
    entry: dict[str, Any]
    on_done: OnDone | None = None
    size: int = 0


@dataclass(eq=False)
class _Flight:
    """One batch out on the bus: ``items`` are those not yet done with (retries shrink it)."""

    items: list[_Item]
    retrying: bool = False
    gave_up: bool = False  # out of attempts: spooled once every call out has ended, oldest first
    answered: bool = False  # its call returned; the loop has not read the answer yet
    task: asyncio.Task[None] | None = None


@dataclass
class PublisherStats:
    submitted: int = 0
    published: int = 0
    retried: int = 0
    rejected: int = 0
    spooled_total: int = 0
    dropped: int = 0
    state: str = "ok"  # ok | retrying | unreachable | draining
    last_error: str | None = None
    unreachable_since: float | None = None  # time.time()


class RelayPublisher:
    def __init__(
        self,
        bus: EventBridgePublisher,
        spool_dir: Path,
        *,
        max_queue: int = 10_000,
        flush_delay: float = 0.0,
        attempts: int = 4,
        retry_base: float = 0.1,
        retry_max: float = 10.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_spool_bytes: int = DEFAULT_MAX_BYTES,
        complain_every: float = 30.0,
        max_entries: int = MAX_ENTRIES_PER_CALL,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        if not 1 <= max_entries <= MAX_ENTRIES_PER_CALL:
            raise ValueError(
                f"max_entries must be 1 to {MAX_ENTRIES_PER_CALL} (PutEvents takes at most that)"
            )
        if not 1 <= max_in_flight <= MAX_IN_FLIGHT:
            raise ValueError(f"max_in_flight must be 1 to {MAX_IN_FLIGHT}")
        self.bus = bus
        self.max_entries = max_entries  # entries per PutEvents call (1: the unbatched baseline of benches)
        self.max_in_flight = max_in_flight  # PutEvents calls at a time (1: in order between calls)
        self.spool = Spool(spool_dir, max_spool_bytes)
        self.flush_delay = flush_delay
        self.attempts = attempts
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.max_request_bytes = max_request_bytes
        self.complain_every = complain_every
        self.stats = PublisherStats()
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(max_queue)
        self._carry: _Item | None = None  # taken from the queue, did not fit the last batch
        self._flights: list[_Flight] = []  # batches from the queue out on the bus, oldest first
        self._landed = asyncio.Event()  # set when a flight ends
        self._stopping = False
        self._aborting = False
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_complaint = 0.0
        self._last_drop_complaint = 0.0
        if self.spool.pending:
            log.info("%d entries spooled by an earlier run: sending them first", self.spool.pending)

    # --- producer side ----------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize() + (self._carry is not None) + sum(len(f.items) for f in self._flights)

    @property
    def healthy(self) -> bool:
        return self.stats.state != "unreachable"

    def health(self) -> dict[str, Any]:
        s = self.stats
        since = s.unreachable_since
        return {
            "state": s.state,
            "healthy": self.healthy,
            "unreachable_for_s": round(time.time() - since, 1) if since else None,
            "queue_depth": self.queue_depth,
            "spooled": self.spool.pending,
            "spool_bytes": self.spool.pending_bytes,
            "spool_max_bytes": self.spool.max_bytes,
            "spool_full": self.spool.full,
            "published": s.published,
            "rejected": s.rejected,
            "dropped": s.dropped,
            "quarantined": self.spool.quarantined,
            "last_error": s.last_error,
        }

    async def submit(self, entry: dict[str, Any], on_done: OnDone | None = None) -> None:
        """Queue ``entry`` for the bus; waits while the queue is full."""
        self.stats.submitted += 1
        item = _Item(entry, on_done, entry_size(entry))
        if item.size > self.max_request_bytes:  # alone it would fail the whole call it is in
            self._refuse(item, "EntryTooLarge", f"{item.size} bytes > {self.max_request_bytes}")
            return
        if self.spool.pending or self._closed:  # the bus is behind (or we stopped): join the spool
            self._to_spool([item])
            return
        idle = self._queue.empty()
        await self._queue.put(item)
        # A websocket reader with a burst buffered never waits, so it holds the loop until the
        # burst is read: it yields when the sender may be waiting for just this entry, or when a
        # call's answer came back (not every time: each yield is a trip through the loop).
        if idle or any(f.answered for f in self._flights):
            await asyncio.sleep(0)

    # --- consumer side ----------------------------------------------------------------------

    async def run(self) -> None:
        """Send until ``close()``; then flush what is queued (or spool it)."""
        self._task = asyncio.current_task()
        try:
            await self._loop()
        except asyncio.CancelledError:
            self._abandon()
            if not self._aborting:
                raise
            self._spool_flights()
        except BaseException:
            self._abandon()
            raise

    async def close(self, timeout: float = 10.0) -> None:
        """Stop taking work: flush the queue within ``timeout``, spool whatever is left.

        Returns within ``timeout`` (plus an fsync) even when a PutEvents call hangs: the call
        is abandoned and its entries spooled (they may then reach the bus twice).
        """
        self._stopping = True
        self._wake.set()
        task = self._task
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=max(0.0, timeout))
            if not done:
                self._aborting = True
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._closed = True
        self._spool_flights()

    # --- internals --------------------------------------------------------------------------

    async def _loop(self) -> None:
        delays = self._delays()
        while True:
            self._check_flights()
            out = [f for f in self._flights if not f.gave_up]
            if self._flights and not out:  # every call out ended, some gave up: the bus is down
                self._spool_flights()
            if self.spool.pending:
                if out:
                    await self._land(0)  # the calls still out end on the bus or give up too
                    continue
                self._spool_queue()
                if self._stopping:
                    return  # the spool waits for the next start
                if await self._drain_spool():
                    delays = self._delays()
                else:
                    self._complain()
                    await self._sleep(next(delays))
                continue
            if self._stopping and self._queue.empty() and self._carry is None:
                if not self._flights:
                    return
                await self._land(0)
                continue
            if len(out) >= self.max_in_flight or any(f.retrying for f in self._flights):
                await self._land(len(out) - 1)
                continue
            batch = await self._next_batch()
            if batch:
                self._launch(batch)

    def _launch(self, batch: list[_Item]) -> None:
        flight = _Flight(batch)
        self._flights.append(flight)
        flight.task = asyncio.create_task(self._fly(flight), name="qqbus-put-events")

    async def _fly(self, flight: _Flight) -> None:
        try:
            await self._send_with_retries(flight)
        finally:
            self._landed.set()  # the loop looks again (and raises a failure: ``_check_flights``)
        if not flight.gave_up:
            self._flights.remove(flight)

    def _check_flights(self) -> None:
        """A flight that failed (the spool could not be written, say) fails the loop."""
        for flight in self._flights:
            task = flight.task
            if task is not None and task.done() and not task.cancelled():
                error = task.exception()
                if error is not None:
                    raise error

    async def _land(self, at_most: int) -> None:
        """Wait until at most ``at_most`` calls are out (flights that gave up are not)."""
        while True:
            self._check_flights()
            if sum(not f.gave_up for f in self._flights) <= at_most:
                return
            self._landed.clear()
            await self._landed.wait()

    def _abandon(self) -> None:
        """The loop is ending abnormally: abandon the calls out (their items stay in ``_flights``)."""
        for flight in self._flights:
            if flight.task is not None:
                flight.task.cancel()

    def _delays(self) -> Iterator[float]:
        delay = self.retry_base
        while True:
            yield delay * (0.5 + random.random() / 2)
            delay = min(self.retry_max, delay * 2)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _next_batch(self) -> list[_Item]:
        """The next batch: up to ``max_entries`` within the size limit, or what came in ``flush_delay``."""
        if self._carry is not None:
            first, self._carry = self._carry, None
        else:
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=0.2)
            except TimeoutError:
                return []
        batch, size = [first], first.size
        deadline = time.monotonic() + self.flush_delay
        while len(batch) < self.max_entries:
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

    async def _attempt(self, items: list[_Item], flight: _Flight | None = None) -> list[_Item]:
        """One PutEvents call; the items still to retry (those refused for good are kept aside)."""

        def put(entries: list[dict[str, Any]]) -> list[Failed | None]:
            try:
                return self.bus.put_once(entries)
            finally:
                if flight is not None:
                    flight.answered = True  # read by ``submit`` (the loop's thread)

        results = await call_in_daemon_thread(put, [i.entry for i in items], name="qqbus-put-events")
        if flight is not None:
            flight.answered = False
        retry: list[_Item] = []
        for item, failure in zip(items, results, strict=True):
            if failure is None:
                self.stats.published += 1
                self._done(item, "published")
            elif failure.retryable:
                retry.append(item)
                self.stats.last_error = f"{failure.code}: {failure.message}"[:300]
            else:
                self._refuse(item, failure.code, failure.message)
        return retry

    def _refuse(self, item: _Item, code: str, message: str) -> None:
        self.stats.rejected += 1
        log.error(
            "the bus refused an entry for good (%s %s); kept in %s", code, message, self.spool.rejected_path
        )
        self.spool.reject(item.entry, code, message)
        self._done(item, "rejected")

    def _done(self, item: _Item, outcome: Outcome) -> None:
        if item.on_done is None:
            return
        try:
            item.on_done(outcome)
        except Exception:  # a caller's bookkeeping must never stop the publisher
            log.exception("an on_done callback failed (%s)", outcome)

    async def _send_with_retries(self, flight: _Flight) -> None:
        """Until the bus takes (or refuses) every entry, or ``attempts`` calls failed: it gave up."""
        delays = self._delays()
        for attempt in range(self.attempts):
            flight.items = await self._attempt(flight.items, flight)
            if not flight.items:
                self._back()
                return
            self.stats.retried += len(flight.items)
            if self.stats.state == "ok":
                self.stats.state = "retrying"
            flight.retrying = True  # no new batch starts until this one is through
            if attempt + 1 < self.attempts:
                await asyncio.sleep(next(delays))
        flight.gave_up = True
        self._unreachable()

    def _spool_queue(self) -> None:
        items = [self._carry] if self._carry is not None else []
        self._carry = None
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        self._to_spool(items)

    def _spool_flights(self) -> None:
        """Every batch not done with, oldest first, then the queue, to the spool; no call stays out."""
        flights, self._flights = self._flights, []
        for flight in flights:
            if flight.task is not None:
                flight.task.cancel()  # its late answer, if any, is dropped: its items go to the spool
            items, flight.items = flight.items, []
            self._to_spool(items)
        self._spool_queue()

    def _to_spool(self, items: list[_Item]) -> None:
        if not items:
            return
        kept = self.spool.append([i.entry for i in items])
        dropped = 0
        for item, ok in zip(items, kept, strict=True):
            if ok:
                self.stats.spooled_total += 1
                self._done(item, "spooled")
            else:
                dropped += 1
                self._done(item, "dropped")
        if dropped:
            self.stats.dropped += dropped
            now = time.monotonic()
            if now - self._last_drop_complaint >= self.complain_every or self.stats.dropped == dropped:
                self._last_drop_complaint = now
                log.error(
                    "the spool is full (%d of %d bytes): %d new entries dropped so far; "
                    "QQ gateway events are asked for again at the next resume, OneBot events are lost",
                    self.spool.pending_bytes,
                    self.spool.max_bytes,
                    self.stats.dropped,
                )

    async def _drain_spool(self) -> bool:
        """Send the oldest spooled entries once; True if the bus took them (or refused them for good)."""
        lines = self.spool.peek(self.max_entries)
        items: list[_Item] = []
        size = 0
        for _, entry in lines:
            n = entry_size(entry)
            if n > self.max_request_bytes and not items:  # never puttable: out of the way
                self._refuse(_Item(entry, None, n), "EntryTooLarge", f"{n} bytes > {self.max_request_bytes}")
                self.spool.advance(lines[0][0], 1)
                return True
            if items and (size + n > self.max_request_bytes or n > self.max_request_bytes):
                break
            items.append(_Item(entry, None, n))
            size += n
        if not items:
            return True
        retry = await self._attempt(items)
        # Advance past the accepted (or refused) prefix; what follows a retryable failure is sent
        # again with it (at least once).
        done = len(items) if not retry else next(i for i, it in enumerate(items) if it is retry[0])
        if done:
            self.spool.advance(lines[done - 1][0], done)
        if not retry:
            self._back()
            if self.spool.pending:
                self.stats.state = "draining"
            else:
                log.info("spool drained")
        return not retry

    def _unreachable(self) -> None:
        if self.stats.state == "unreachable":
            return
        self.stats.state = "unreachable"
        self.stats.unreachable_since = time.time()
        self._last_complaint = time.monotonic()
        log.error(
            "the bus is unreachable after %d attempts (%s): spooling to %s until it answers",
            self.attempts,
            self.stats.last_error,
            self.spool.path,
        )

    def _complain(self) -> None:
        self._unreachable()
        now = time.monotonic()
        if now - self._last_complaint < self.complain_every:
            return
        self._last_complaint = now
        since = self.stats.unreachable_since or time.time()
        log.error(
            "the bus is still unreachable after %.0f s (%s): %d entries (%d bytes) spooled",
            time.time() - since,
            self.stats.last_error,
            self.spool.pending,
            self.spool.pending_bytes,
        )

    def _back(self) -> None:
        if self.stats.state == "unreachable" and self.stats.unreachable_since:
            log.warning(
                "the bus answers again after %.0f s unreachable", time.time() - self.stats.unreachable_since
            )
        self.stats.state = "ok"
        self.stats.unreachable_since = None
