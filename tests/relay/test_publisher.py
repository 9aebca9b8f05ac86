"""RelayPublisher under injected PutEvents faults: nothing lost, each entry done with once.

With one call in flight nothing is reordered between calls; with several, calls land in any
order (delivery is at least once and unordered, DESIGN.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from qqbus.detail import build_entry
from qqbus.publish import EventBridgePublisher, entry_size
from qqbus_relay.publisher import Outcome, RelayPublisher
from qqbus_relay.spool import encode_line

from tests.relay.conftest import Blackhole, BusTap
from tests.relay.faults import PutEventsFaults


def entry(conn: int, n: int, pad: int = 0) -> dict[str, Any]:
    detail = {"conn": conn, "n": n, "pad": "x" * pad}
    return build_entry(source="test.relay", detail_type="t", detail=detail, bus_name="qqbus-test")


def publisher(tmp_path: Path, plan: Any, **kw: Any) -> tuple[RelayPublisher, PutEventsFaults]:
    client = boto3.client("events")
    faults = PutEventsFaults(client, plan)
    bus = EventBridgePublisher(events=client)
    defaults: dict[str, Any] = {"flush_delay": 0.005, "attempts": 3, "retry_base": 0.001, "retry_max": 0.01}
    return RelayPublisher(bus, tmp_path / "spool", **(defaults | kw)), faults


async def pump(
    pub: RelayPublisher,
    entries: list[dict[str, Any]],
    outcomes: dict[int, list[Outcome]],
    *,
    outage: bool = False,
) -> None:
    """Submit everything, wait until it is on the bus (or, in an outage, all in the spool), close."""
    runner = asyncio.create_task(pub.run())
    for i, e in enumerate(entries):
        await pub.submit(e, on_done=lambda outcome, i=i: outcomes.setdefault(i, []).append(outcome))
    for _ in range(2000):
        if outage and pub.spool.pending == len(entries):
            break
        if pub.stats.published + pub.stats.rejected >= len(entries) and not pub.spool.pending:
            break
        await asyncio.sleep(0.01)
    await pub.close(timeout=5)
    await runner


def received(tap: BusTap) -> list[tuple[int, int]]:
    return [(e["detail"]["conn"], e["detail"]["n"]) for e in tap.drain()]


@pytest.mark.slow  # a soak: `make test-slow` (and CI) runs it
@pytest.mark.parametrize("max_in_flight", [1, 4])
def test_whole_call_failures_and_an_outage_lose_nothing_and_keep_order(
    tap: BusTap, tmp_path: Path, max_in_flight: int
) -> None:
    def plan(call: int, n: int) -> str | None:
        if 20 <= call < 45:
            return "ServiceUnavailable"  # an outage: more failures in a row than attempts
        return "ThrottlingException" if call % 5 == 0 else None

    pub, faults = publisher(tmp_path, plan, max_in_flight=max_in_flight)
    entries = [entry(c, n) for n in range(150) for c in range(3)]
    outcomes: dict[int, list[Outcome]] = {}
    asyncio.run(pump(pub, entries, outcomes))
    got = received(tap)
    sent = [(json.loads(e["Detail"])["conn"], json.loads(e["Detail"])["n"]) for e in entries]
    # One call at a time keeps order between calls; several land in any order, each entry once.
    assert got == sent if max_in_flight == 1 else sorted(got) == sorted(sent)
    assert pub.stats.spooled_total > 0 and pub.spool.pending == 0
    # One outcome per entry: on the bus, or safe in the spool (which then drained).
    assert sorted(outcomes) == list(range(len(entries)))
    assert all(len(o) == 1 and o[0] in ("published", "spooled") for o in outcomes.values())
    assert sum(o == ["spooled"] for o in outcomes.values()) == pub.stats.spooled_total
    assert faults.injected > 0


@pytest.mark.parametrize("max_in_flight", [1, 4])
def test_per_entry_faults_lose_nothing_and_reorder_only_within_a_call(
    tap: BusTap, tmp_path: Path, max_in_flight: int
) -> None:
    rng = random.Random(7)

    def plan(call: int, n: int) -> list[str | None]:
        return [
            rng.choice(["InternalFailure", "ThrottlingException"]) if rng.random() < 0.15 else None
            for _ in range(n)
        ]

    pub, faults = publisher(tmp_path, plan, attempts=6, max_in_flight=max_in_flight)
    entries = [entry(c, n) for n in range(200) for c in range(2)]
    outcomes: dict[int, list[Outcome]] = {}
    asyncio.run(pump(pub, entries, outcomes))
    got = received(tap)
    first_seen: dict[tuple[int, int], int] = {}
    for position, key in enumerate(got):
        first_seen.setdefault(key, position)
    assert set(first_seen) == {(c, n) for n in range(200) for c in range(2)}
    assert faults.injected > 20
    if max_in_flight == 1:  # calls out together land in any order: then order is no promise
        for conn in range(2):
            positions = [first_seen[(conn, n)] for n in range(200)]
            # An entry that failed lands after its call's successes, never later than that call.
            for n, position in enumerate(positions):
                assert all(position > positions[m] - 20 for m in range(n)), (conn, n)
    assert sorted(outcomes) == list(range(len(entries)))
    assert all(len(o) == 1 for o in outcomes.values())


def test_entries_refused_for_good_are_kept_not_retried(tap: BusTap, tmp_path: Path) -> None:
    def plan(call: int, n: int) -> list[str | None]:
        return ["ValidationException" if call == 1 and i == 0 else None for i in range(n)]

    pub, _ = publisher(tmp_path, plan)
    outcomes: dict[int, list[Outcome]] = {}
    asyncio.run(pump(pub, [entry(0, n) for n in range(5)], outcomes))
    assert [n for _, n in received(tap)] == [1, 2, 3, 4]
    rejected = [json.loads(line) for line in (tmp_path / "spool" / "rejected.jsonl").read_text().splitlines()]
    assert len(rejected) == 1 and rejected[0]["error"] == "ValidationException"
    assert json.loads(rejected[0]["entry"]["Detail"])["n"] == 0
    # The refused entry is done with too: it must not hold a QQ resume seq back.
    assert outcomes == {
        0: ["rejected"],
        1: ["published"],
        2: ["published"],
        3: ["published"],
        4: ["published"],
    }


def test_batches_respect_ten_entries_and_the_size_limit(tap: BusTap, tmp_path: Path) -> None:
    sizes: list[int] = []

    def plan(call: int, n: int) -> None:
        sizes.append(n)
        return None

    # One call out, so the first call the bus sees is the first batch.
    pub, _ = publisher(tmp_path, plan, max_request_bytes=3000, flush_delay=0.2, max_in_flight=1)
    asyncio.run(pump(pub, [entry(0, n, pad=900) for n in range(12)] + [entry(1, n) for n in range(25)], {}))
    assert max(sizes) <= 10
    assert len(received(tap)) == 37
    assert sizes[0] <= 3  # three padded entries fill 3000 bytes


def test_max_entries_caps_each_call_and_is_checked(tap: BusTap, tmp_path: Path) -> None:
    """``max_entries=1, max_in_flight=1`` is the baseline the gateway bench compares against."""
    sizes: list[int] = []

    def plan(call: int, n: int) -> None:
        sizes.append(n)

    pub, _ = publisher(tmp_path, plan, max_entries=1, max_in_flight=1, flush_delay=0.05)
    asyncio.run(pump(pub, [entry(0, n) for n in range(7)], {}))
    assert sizes == [1] * 7 and received(tap) == [(0, n) for n in range(7)]
    for bad in (0, 11):
        with pytest.raises(ValueError, match="max_entries must be 1 to 10"):
            publisher(tmp_path, plan, max_entries=bad)
    for bad in (0, 33):
        with pytest.raises(ValueError, match="max_in_flight must be 1 to 32"):
            publisher(tmp_path, plan, max_in_flight=bad)


def test_a_restart_drains_what_an_earlier_process_spooled(tap: BusTap, tmp_path: Path) -> None:
    down, _ = publisher(tmp_path, lambda call, n: "ServiceUnavailable")
    asyncio.run(pump(down, [entry(0, n) for n in range(30)], {}, outage=True))
    assert down.spool.pending == 30 and received(tap) == []
    up, _ = publisher(tmp_path, lambda call, n: None)
    assert up.spool.pending == 30
    # The calls that were out together reached the spool in the order they gave up.
    spooled = [json.loads(e["Detail"])["n"] for _, e in up.spool.peek(30)]
    assert sorted(spooled) == list(range(30))

    async def drain() -> None:
        runner = asyncio.create_task(up.run())
        for _ in range(500):
            if not up.spool.pending:
                break
            await asyncio.sleep(0.01)
        await up.close()
        await runner

    asyncio.run(drain())
    assert [n for _, n in received(tap)] == spooled  # drained oldest first


def test_backpressure_when_the_queue_is_full(tap: BusTap, tmp_path: Path) -> None:
    pub, _ = publisher(tmp_path, lambda call, n: None, max_queue=5)

    async def scenario() -> bool:
        for n in range(5):
            await pub.submit(entry(0, n))
        blocked = asyncio.create_task(pub.submit(entry(0, 5)))
        await asyncio.sleep(0.05)
        was_blocked = not blocked.done()
        runner = asyncio.create_task(pub.run())
        await asyncio.wait_for(blocked, 5)
        await asyncio.sleep(0.1)
        await pub.close()
        await runner
        return was_blocked

    assert asyncio.run(scenario()) is True
    assert [n for _, n in received(tap)] == list(range(6))


def test_an_entry_too_large_for_any_call_is_refused_alone(tap: BusTap, tmp_path: Path) -> None:
    pub, _ = publisher(tmp_path, lambda call, n: None, flush_delay=0.2)
    outcomes: dict[int, list[Outcome]] = {}
    entries = [entry(0, 0), entry(0, 1, pad=300 * 1024), entry(0, 2)]
    asyncio.run(pump(pub, entries, outcomes))
    assert sorted(n for _, n in received(tap)) == [0, 2]  # its batch-mates are not taken down with it
    assert outcomes == {0: ["published"], 1: ["rejected"], 2: ["published"]}
    rejected = json.loads((tmp_path / "spool" / "rejected.jsonl").read_text())
    assert rejected["error"] == "EntryTooLarge" and json.loads(rejected["entry"]["Detail"])["n"] == 1


def test_close_keeps_its_deadline_when_put_events_hangs(tmp_path: Path, blackhole: Blackhole) -> None:
    """A call stuck on the network is abandoned at the deadline; its entries and the queue are spooled."""
    from botocore.config import Config

    client = boto3.client(
        "events",
        endpoint_url=blackhole.url,
        config=Config(read_timeout=60, retries={"total_max_attempts": 1}),
    )
    pub = RelayPublisher(EventBridgePublisher(events=client), tmp_path / "spool", flush_delay=0.005)
    outcomes: dict[int, list[Outcome]] = {}

    async def scenario() -> float:
        runner = asyncio.create_task(pub.run())
        for i in range(50):
            await pub.submit(entry(0, i), on_done=lambda o, i=i: outcomes.setdefault(i, []).append(o))
        for _ in range(500):
            if blackhole.accepted:
                break
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await pub.close(timeout=1.0)
        await runner
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert blackhole.accepted >= 1
    assert elapsed < 2.0, elapsed
    assert pub.spool.pending == 50
    assert outcomes == {i: ["spooled"] for i in range(50)}
    assert [json.loads(e["Detail"])["n"] for _, e in pub.spool.peek(50)] == list(range(50))


@pytest.mark.parametrize("max_in_flight", [1, 4])
def test_calls_overlap_up_to_max_in_flight_on_a_slow_bus(tmp_path: Path, max_in_flight: int) -> None:
    """A bus 100 ms away: calls are out together, never more than allowed, each entry put once.

    No rule on the bus (moto's delivery to a queue costs CPU that no overlap can hide): what the
    bus accepted is what its PutEvents answers say.
    """
    sent: list[int] = []
    with mock_aws():
        client = boto3.client("events")
        client.create_event_bus(Name="qqbus-test")
        faults = PutEventsFaults(client, lambda call, n: sent.append(n), delay=lambda call: 0.1)
        pub = RelayPublisher(
            EventBridgePublisher(events=client), tmp_path / "spool", max_in_flight=max_in_flight
        )
        outcomes: dict[int, list[Outcome]] = {}

        async def scenario() -> float:
            runner = asyncio.create_task(pub.run())
            started = time.monotonic()
            for i in range(100):
                await pub.submit(entry(0, i), on_done=lambda o, i=i: outcomes.setdefault(i, []).append(o))
            while pub.stats.published < 100 and time.monotonic() - started < 20:
                await asyncio.sleep(0.005)
            elapsed = time.monotonic() - started
            await pub.close()
            await runner
            return elapsed

        elapsed = asyncio.run(scenario())
    assert faults.max_concurrent == max_in_flight
    assert outcomes == {i: ["published"] for i in range(100)}
    assert sum(sent) == 100  # no entry went out twice
    serial = 0.1 * faults.calls  # one call at a time takes at least this
    assert elapsed >= serial if max_in_flight == 1 else elapsed < 0.6 * serial, (elapsed, faults.calls)


def test_a_retry_holds_new_calls_until_it_is_through(tap: BusTap, tmp_path: Path) -> None:
    """A throttled bus is not sent more work while the publisher backs off."""
    client = boto3.client("events")
    starts: list[tuple[int, float]] = []

    def plan(call: int, n: int) -> str | None:
        starts.append((call, time.monotonic()))
        return "ThrottlingException" if call == 1 else None

    faults = PutEventsFaults(client, plan, delay=lambda call: 0.02)
    pub = RelayPublisher(
        EventBridgePublisher(events=client),
        tmp_path / "spool",
        retry_base=0.4,
        retry_max=0.4,
        max_in_flight=4,
    )
    asyncio.run(pump(pub, [entry(0, n) for n in range(100)], {}))
    assert sorted(n for _, n in received(tap)) == list(range(100))
    assert faults.injected == 1 and pub.stats.retried >= 1
    calls = dict(starts)
    first_failed = calls[1] + 0.02  # the throttled answer came back then
    retried = min(t for c, t in starts if t > first_failed + 0.15)  # after the backoff (>= 0.2 s)
    # Between the failure and the retry only calls already out ran: at most max_in_flight - 1.
    assert sum(first_failed < t < retried for _, t in starts) <= 3


def test_close_spools_every_call_out_when_the_bus_hangs(tmp_path: Path, blackhole: Blackhole) -> None:
    """Four calls stuck on the network: all are abandoned at the deadline, their entries spooled in order."""
    from botocore.config import Config

    client = boto3.client(
        "events",
        endpoint_url=blackhole.url,
        config=Config(read_timeout=60, retries={"total_max_attempts": 1}, max_pool_connections=8),
    )
    pub = RelayPublisher(EventBridgePublisher(events=client), tmp_path / "spool", max_in_flight=4)
    outcomes: dict[int, list[Outcome]] = {}

    async def scenario() -> float:
        runner = asyncio.create_task(pub.run())
        for i in range(100):
            await pub.submit(entry(0, i), on_done=lambda o, i=i: outcomes.setdefault(i, []).append(o))
        for _ in range(500):
            if blackhole.accepted >= 4:
                break
            await asyncio.sleep(0.01)
        assert pub.queue_depth == 100  # the 4 calls' entries count as queued until done with
        started = time.monotonic()
        await pub.close(timeout=1.0)
        await runner
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert blackhole.accepted == 4 and elapsed < 2.0, (blackhole.accepted, elapsed)
    assert outcomes == {i: ["spooled"] for i in range(100)}
    assert [json.loads(e["Detail"])["n"] for _, e in pub.spool.peek(100)] == list(range(100))


# --- closing, batch boundaries, and an outage that lasts ---------------------------------------


@pytest.mark.timeout(20)  # a close that spins never yields to asyncio: only this stops it
def test_close_with_one_call_still_out_waits_for_it_and_returns(tmp_path: Path) -> None:
    """The call lands within the close's deadline: its entry is published, not spooled or lost."""
    with mock_aws():
        client = boto3.client("events")
        client.create_event_bus(Name="qqbus-test")
        faults = PutEventsFaults(client, lambda call, n: None, delay=lambda call: 0.4)
        # Calls to spare (the default 4): the loop is waiting for the queue, not for the call.
        pub = RelayPublisher(EventBridgePublisher(events=client), tmp_path / "spool")
        outcomes: list[Outcome] = []

        async def scenario() -> float:
            runner = asyncio.create_task(pub.run())
            await pub.submit(entry(0, 0), on_done=outcomes.append)
            while faults.calls == 0:
                await asyncio.sleep(0.005)
            started = time.monotonic()
            await pub.close(timeout=10)
            await runner
            return time.monotonic() - started

        elapsed = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert outcomes == ["published"] and pub.stats.published == 1
    assert elapsed < 5, elapsed  # waited for the call (0.4 s), not for the deadline
    assert pub.spool.pending == 0 and faults.calls == 1


def test_close_with_nothing_out_returns_at_once(tmp_path: Path) -> None:
    with mock_aws():
        pub = RelayPublisher(EventBridgePublisher(events=boto3.client("events")), tmp_path / "spool")

        async def scenario() -> float:
            runner = asyncio.create_task(pub.run())
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await pub.close(timeout=10)
            await runner
            return time.monotonic() - started

        assert asyncio.run(asyncio.wait_for(scenario(), 20)) < 1


def call_sizes(tap_bus: BusTap, tmp_path: Path, entries: list[dict[str, Any]], **kw: Any) -> list[int]:
    """The entries per PutEvents call when ``entries`` are queued before the publisher starts."""
    sizes: list[int] = []
    pub, _ = publisher(tmp_path, lambda call, n: sizes.append(n), flush_delay=0, max_in_flight=1, **kw)

    async def scenario() -> None:
        for e in entries:
            await pub.submit(e)
        runner = asyncio.create_task(pub.run())
        while pub.stats.published < len(entries):
            await asyncio.sleep(0.005)
        await pub.close()
        await runner

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert sorted(n for _, n in received(tap_bus)) == sorted(json.loads(e["Detail"])["n"] for e in entries)
    return sizes


@pytest.mark.parametrize("count, calls", [(10, [10]), (11, [10, 1]), (20, [10, 10]), (21, [10, 10, 1])])
def test_a_call_takes_ten_entries_and_no_more(
    tap: BusTap, tmp_path: Path, count: int, calls: list[int]
) -> None:
    assert call_sizes(tap, tmp_path, [entry(0, n) for n in range(count)]) == calls


@pytest.mark.parametrize("slack, calls", [(0, [3, 3]), (-1, [2, 2, 2])], ids=["exactly", "one byte short"])
def test_a_call_fills_up_to_exactly_the_request_limit(
    tap: BusTap, tmp_path: Path, slack: int, calls: list[int]
) -> None:
    entries = [entry(0, n, pad=100) for n in range(6)]
    size = entry_size(entries[0])
    assert {entry_size(e) for e in entries} == {size}
    assert call_sizes(tap, tmp_path, entries, max_request_bytes=3 * size + slack) == calls


def spooled_earlier(tmp_path: Path, entries: list[dict[str, Any]]) -> None:
    """What a relay that stopped during an outage left in its spool."""
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(exist_ok=True)
    (spool_dir / "spool.jsonl").write_bytes(b"".join(encode_line(e) for e in entries))


def drain_sizes(tap_bus: BusTap, tmp_path: Path, entries: list[dict[str, Any]], **kw: Any) -> list[int]:
    """The entries per PutEvents call when the spool drains ``entries``."""
    spooled_earlier(tmp_path, entries)
    sizes: list[int] = []
    pub, _ = publisher(tmp_path, lambda call, n: sizes.append(n), **kw)
    assert pub.spool.pending == len(entries)

    async def scenario() -> None:
        runner = asyncio.create_task(pub.run())
        while pub.spool.pending:
            await asyncio.sleep(0.005)
        await pub.close()
        await runner

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [n for _, n in received(tap_bus)] == [json.loads(e["Detail"])["n"] for e in entries]  # in order
    return sizes


@pytest.mark.parametrize("count, calls", [(10, [10]), (11, [10, 1])])
def test_the_spool_drains_ten_entries_a_call(
    tap: BusTap, tmp_path: Path, count: int, calls: list[int]
) -> None:
    assert drain_sizes(tap, tmp_path, [entry(0, n) for n in range(count)]) == calls


@pytest.mark.parametrize("slack, calls", [(0, [3, 3]), (-1, [2, 2, 2])], ids=["exactly", "one byte short"])
def test_the_spool_drains_up_to_exactly_the_request_limit(
    tap: BusTap, tmp_path: Path, slack: int, calls: list[int]
) -> None:
    entries = [entry(0, n, pad=100) for n in range(6)]
    size = entry_size(entries[0])
    assert drain_sizes(tap, tmp_path, entries, max_request_bytes=3 * size + slack) == calls


@pytest.mark.parametrize("spooled", [False, True], ids=["submitted", "spooled"])
def test_an_entry_of_exactly_the_request_limit_is_put_and_one_byte_more_is_refused(
    tap: BusTap, tmp_path: Path, spooled: bool
) -> None:
    fits, too_big = entry(0, 0, pad=2000), entry(0, 1, pad=2001)
    limit = entry_size(fits)
    assert entry_size(too_big) == limit + 1
    outcomes: dict[int, list[Outcome]] = {}
    if spooled:
        spooled_earlier(tmp_path, [fits, too_big, entry(0, 2)])
        pub, _ = publisher(tmp_path, lambda call, n: None, max_request_bytes=limit)

        async def drain() -> None:
            runner = asyncio.create_task(pub.run())
            while pub.spool.pending:
                await asyncio.sleep(0.005)
            await pub.close()
            await runner

        asyncio.run(asyncio.wait_for(drain(), 30))
        assert (pub.stats.published, pub.stats.rejected) == (2, 1)
    else:
        pub, _ = publisher(tmp_path, lambda call, n: None, max_request_bytes=limit)
        asyncio.run(pump(pub, [fits, too_big, entry(0, 2)], outcomes))
        assert outcomes == {0: ["published"], 1: ["rejected"], 2: ["published"]}
    assert sorted(n for _, n in received(tap)) == [0, 2]  # which got through (SQS does not keep order)
    rejected = json.loads((tmp_path / "spool" / "rejected.jsonl").read_text())
    assert rejected["error"] == "EntryTooLarge" and rejected["message"] == f"{limit + 1} bytes > {limit}"


def test_an_outage_that_lasts_is_reported_again_every_complain_every(
    tap: BusTap, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One ERROR when the bus goes away, then one per ``complain_every`` while it stays away, then
    a WARNING when it is back: loud enough to be seen, never a line per retry."""
    down = {"on": True}
    pub, _ = publisher(
        tmp_path,
        lambda call, n: "ServiceUnavailable" if down["on"] else None,
        attempts=2,
        complain_every=0.25,
    )

    async def scenario() -> tuple[float, int]:
        runner = asyncio.create_task(pub.run())
        for n in range(3):
            await pub.submit(entry(0, n))
        while pub.stats.state != "unreachable":
            await asyncio.sleep(0.005)
        started = time.monotonic()
        await asyncio.sleep(1.3)
        outage = time.monotonic() - started
        tries = pub.stats.retried
        down["on"] = False
        while pub.spool.pending:
            await asyncio.sleep(0.005)
        await pub.close()
        await runner
        return outage, tries

    with caplog.at_level(logging.INFO, logger="qqbus_relay.publisher"):
        outage, _ = asyncio.run(asyncio.wait_for(scenario(), 30))
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    went = [m for level, m in messages if level == logging.ERROR and "the bus is unreachable after" in m]
    still = [m for level, m in messages if level == logging.ERROR and "still unreachable" in m]
    assert len(went) == 1 and "after 2 attempts" in went[0]
    # About one per 0.25 s of the outage (the drain retries every few ms: not one per retry).
    assert 2 <= len(still) <= outage / 0.25 + 1, (len(still), outage)
    assert all("3 entries" in m and "bytes) spooled" in m for m in still)
    # Each says how long the outage has lasted so far: counting up from 0, never past it.
    lasted = [int(re.search(r"after (\d+) s", m).group(1)) for m in still]  # type: ignore[union-attr]
    assert lasted == sorted(lasted) and all(0 <= s <= outage + 1 for s in lasted)
    (back,) = [m for level, m in messages if level == logging.WARNING and "answers again" in m]
    assert 0 < int(re.search(r"after (\d+) s", back).group(1)) <= outage + 1  # type: ignore[union-attr]
    assert [n for _, n in received(tap)] == [0, 1, 2] and pub.healthy
    health = pub.health()
    assert (health["state"], health["healthy"], health["unreachable_for_s"]) == ("ok", True, None)


def test_a_short_outage_is_not_reported_again(
    tap: BusTap, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = {"on": True}
    pub, _ = publisher(
        tmp_path, lambda call, n: "ServiceUnavailable" if down["on"] else None, attempts=2, complain_every=60
    )

    async def scenario() -> None:
        runner = asyncio.create_task(pub.run())
        await pub.submit(entry(0, 0))
        while pub.stats.state != "unreachable":
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.3)
        down["on"] = False
        while pub.spool.pending:
            await asyncio.sleep(0.005)
        await pub.close()
        await runner

    with caplog.at_level(logging.ERROR, logger="qqbus_relay.publisher"):
        asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [r.getMessage()[:30] for r in caplog.records] == ["the bus is unreachable after 2"]


def test_what_is_submitted_after_close_is_spooled_not_lost(tap: BusTap, tmp_path: Path) -> None:
    pub, _ = publisher(tmp_path, lambda call, n: None)
    outcomes: dict[int, list[Outcome]] = {}

    async def scenario() -> None:
        runner = asyncio.create_task(pub.run())
        await pub.submit(entry(0, 0), on_done=lambda o: outcomes.setdefault(0, []).append(o))
        while not outcomes:
            await asyncio.sleep(0.005)
        await pub.close()
        await runner
        # A websocket reader that had a frame in hand as the relay stopped:
        await pub.submit(entry(0, 1), on_done=lambda o: outcomes.setdefault(1, []).append(o))

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert outcomes == {0: ["published"], 1: ["spooled"]}
    assert pub.stats.submitted == 2 and pub.spool.pending == 1
    assert [json.loads(e["Detail"])["n"] for _, e in pub.spool.peek(10)] == [1]  # the next start sends it


def test_close_without_run_spools_what_was_queued(tmp_path: Path) -> None:
    """The relay failed to start its loop (or stops before it ran): the queue still reaches disk."""
    with mock_aws():
        pub = RelayPublisher(EventBridgePublisher(events=boto3.client("events")), tmp_path / "spool")
        outcomes: list[Outcome] = []

        async def scenario() -> None:
            for n in range(3):
                await pub.submit(entry(0, n), on_done=outcomes.append)
            await pub.close(timeout=5)

        asyncio.run(asyncio.wait_for(scenario(), 20))
    assert outcomes == ["spooled"] * 3 and pub.queue_depth == 0
    assert [json.loads(e["Detail"])["n"] for _, e in pub.spool.peek(10)] == [0, 1, 2]


def test_close_during_an_outage_does_not_wait_out_the_backoff(tap: BusTap, tmp_path: Path) -> None:
    """The drain sleeps between tries (up to retry_max); a close wakes it at once."""
    pub, _ = publisher(
        tmp_path, lambda call, n: "ServiceUnavailable", attempts=1, retry_base=8.0, retry_max=8.0
    )

    async def scenario() -> float:
        runner = asyncio.create_task(pub.run())
        await pub.submit(entry(0, 0))
        while pub.stats.state != "unreachable" or not pub.spool.pending:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.1)  # the drain failed once and is now backing off
        started = time.monotonic()
        await pub.close(timeout=10)
        await runner
        return time.monotonic() - started

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) < 2
    assert pub.spool.pending == 1


def test_a_restart_with_a_spool_and_the_bus_still_down_says_so(
    tap: BusTap, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """/health answers 503 from the first failed drain: the spool an earlier run left is stuck."""
    spooled_earlier(tmp_path, [entry(0, n) for n in range(4)])
    pub, _ = publisher(tmp_path, lambda call, n: "ServiceUnavailable")
    assert pub.healthy

    async def scenario() -> dict[str, Any]:
        runner = asyncio.create_task(pub.run())
        while pub.stats.retried == 0 and pub.stats.last_error is None:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        health = pub.health()
        await pub.close()
        await runner
        return health

    with caplog.at_level(logging.ERROR, logger="qqbus_relay.publisher"):
        health = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert (health["state"], health["healthy"], health["spooled"]) == ("unreachable", False, 4)
    assert health["unreachable_for_s"] is not None and health["unreachable_for_s"] < 30
    assert any("the bus is unreachable" in r.getMessage() for r in caplog.records)
    assert pub.spool.pending == 4 and received(tap) == []
