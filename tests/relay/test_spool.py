"""The spool: bad lines are quarantined (the drain goes on), a torn tail is cut, the cap drops loudly."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import boto3
import pytest
from qqbus.detail import build_entry
from qqbus.publish import EventBridgePublisher
from qqbus.relay import spool as spool_module
from qqbus.relay.publisher import Outcome, RelayPublisher
from qqbus.relay.spool import Spool, encode_line

from tests.relay.conftest import BusTap
from tests.relay.faults import PutEventsFaults


def entry(n: int, text: str = "") -> dict[str, Any]:
    detail = {"n": n, "text": text}
    return build_entry(source="test.relay", detail_type="t", detail=detail, bus_name="qqbus-test")


def numbers(events: list[dict[str, Any]]) -> list[int]:
    return [e["detail"]["n"] for e in events]


async def until(check: Any, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


def test_a_torn_line_is_quarantined_and_the_publisher_goes_on(tap: BusTap, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    torn = encode_line(entry(1))[:25] + b"\n"  # a crash in the middle of a write, then more appends
    (spool_dir / "spool.jsonl").write_bytes(
        encode_line(entry(0)) + torn + encode_line(entry(2)) + b"[1, 2]\n" + encode_line(entry(3))
    )
    publisher = RelayPublisher(
        EventBridgePublisher(events=boto3.client("events")), spool_dir, flush_delay=0.005
    )
    assert publisher.spool.pending == 5

    async def scenario() -> None:
        runner = asyncio.create_task(publisher.run())
        await until(lambda: publisher.spool.pending == 0)
        await publisher.submit(entry(4))  # still publishing after the bad lines
        await until(lambda: publisher.stats.published == 4)
        assert not runner.done()
        await publisher.close()
        await runner

    asyncio.run(scenario())
    assert numbers(tap.drain()) == [0, 2, 3, 4]
    assert (spool_dir / "spool.quarantine").read_bytes() == torn + b"[1, 2]\n"
    assert publisher.spool.quarantined == 2
    # A restart finds nothing left to send (the bad lines are not retried for ever).
    assert Spool(spool_dir).pending == 0


def test_a_torn_last_line_is_cut_before_anything_is_appended_to_it(tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    path.write_bytes(encode_line(entry(0)) + encode_line(entry(1))[:30])  # killed mid-write
    spool = Spool(tmp_path)
    assert spool.pending == 1 and spool.quarantined == 1
    assert spool.append([entry(2)]) == [True]
    assert [e["Detail"] for _, e in spool.peek(10)] == [entry(0)["Detail"], entry(2)["Detail"]]
    assert (tmp_path / "spool.quarantine").read_bytes() == encode_line(entry(1))[:30] + b"\n"


def test_a_whole_last_line_without_its_newline_is_kept(tmp_path: Path) -> None:
    (tmp_path / "spool.jsonl").write_bytes(encode_line(entry(0)) + encode_line(entry(1))[:-1])
    spool = Spool(tmp_path)
    spool.append([entry(2)])
    assert [json.loads(e["Detail"])["n"] for _, e in spool.peek(10)] == [0, 1, 2]
    assert spool.quarantined == 0


def test_an_offset_past_the_end_sends_again_rather_than_skipping(tmp_path: Path) -> None:
    (tmp_path / "spool.jsonl").write_bytes(encode_line(entry(0)))
    (tmp_path / "spool.offset").write_text("999999")
    spool = Spool(tmp_path)
    assert [json.loads(e["Detail"])["n"] for _, e in spool.peek(10)] == [0]


def test_a_lone_surrogate_survives_the_spool(tmp_path: Path) -> None:
    cut = entry(0, "cut emoji \ud83d and 中文")
    spool = Spool(tmp_path)
    assert spool.append([cut]) == [True]
    assert [e for _, e in Spool(tmp_path).peek(1)] == [cut]


def test_compaction_bounds_the_file_and_keeps_the_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "COMPACT_AT", 2000)
    spool = Spool(tmp_path)
    spool.append([entry(n, "x" * 50) for n in range(100)])
    size_before = spool.path.stat().st_size
    seen: list[int] = []
    for _ in range(6):
        lines = spool.peek(10)
        seen += [json.loads(e["Detail"])["n"] for _, e in lines]
        spool.advance(lines[-1][0], len(lines))
    assert spool.path.stat().st_size < size_before * 0.5  # compacted, not only offset-advanced
    restarted = Spool(tmp_path)
    assert restarted.pending == 40
    seen += [json.loads(e["Detail"])["n"] for _, e in restarted.peek(100)]
    assert seen == list(range(100))


def test_a_full_spool_drops_the_newest_loudly_and_drains_the_rest(
    tap: BusTap, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The cap: with the bus down, entries past ``max_spool_bytes`` are dropped (and reported)."""
    one = len(encode_line(entry(0, "y" * 100)))
    client = boto3.client("events")
    down = {"on": True}
    PutEventsFaults(client, lambda call, n: "ServiceUnavailable" if down["on"] else None)
    publisher = RelayPublisher(
        EventBridgePublisher(events=client),
        tmp_path / "spool",
        flush_delay=0.005,
        attempts=2,
        retry_base=0.001,
        retry_max=0.01,
        max_spool_bytes=20 * one,
    )
    outcomes: dict[int, Outcome] = {}

    async def scenario() -> dict[str, Any]:
        runner = asyncio.create_task(publisher.run())
        for n in range(100):
            await publisher.submit(entry(n, "y" * 100), on_done=lambda o, n=n: outcomes.__setitem__(n, o))
        await until(lambda: len(outcomes) == 100)
        health = publisher.health()
        down["on"] = False
        await until(lambda: publisher.spool.pending == 0)
        await publisher.close()
        await runner
        return health

    with caplog.at_level(logging.ERROR, logger="qqbus.relay.publisher"):
        health = asyncio.run(scenario())
    sizes = [len(encode_line(entry(n, "y" * 100))) for n in range(100)]
    fit = next(k for k in range(100) if sum(sizes[: k + 1]) > 20 * one)
    spooled = [n for n, o in sorted(outcomes.items()) if o == "spooled"]
    assert fit >= 19 and spooled == list(range(fit))  # the oldest are kept; nothing was published
    assert all(o == "dropped" for n, o in outcomes.items() if n >= fit)
    assert publisher.stats.dropped == 100 - fit
    assert health["spool_full"] and health["state"] == "unreachable" and not health["healthy"]
    assert health["spool_bytes"] <= health["spool_max_bytes"]
    assert any("the spool is full" in r.getMessage() for r in caplog.records)
    assert any("the bus is unreachable" in r.getMessage() for r in caplog.records)
    assert numbers(tap.drain()) == list(range(fit))
