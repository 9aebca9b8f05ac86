"""RelayPublisher under injected PutEvents faults: nothing lost, each entry done with once.

With one call in flight nothing is reordered between calls; with several, calls land in any
order (delivery is at least once and unordered, DESIGN.md).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from qqbus.detail import build_entry
from qqbus.publish import EventBridgePublisher
from qqbus.relay.publisher import Outcome, RelayPublisher

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
    assert [n for _, n in received(tap)] == [0, 2]  # its batch-mates are not taken down with it
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
