"""The spool: bad lines are quarantined (the drain goes on), a torn tail is cut, the cap drops loudly."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from qqbus.detail import build_entry
from qqbus.publish import EventBridgePublisher
from qqbus_relay import spool as spool_module
from qqbus_relay.publisher import Outcome, RelayPublisher
from qqbus_relay.spool import Spool, SpoolInUse, decode_entry, encode_line, lock_directory

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

    with caplog.at_level(logging.ERROR, logger="qqbus_relay.publisher"):
        health = asyncio.run(scenario())
    sizes = [len(encode_line(entry(n, "y" * 100))) for n in range(100)]
    fit = next(k for k in range(100) if sum(sizes[: k + 1]) > 20 * one)
    spooled = [n for n, o in sorted(outcomes.items()) if o == "spooled"]
    assert fit >= 19 and spooled == list(range(fit))  # the oldest are kept; nothing was published
    assert all(o == "dropped" for n, o in outcomes.items() if n >= fit)
    assert publisher.stats.dropped == 100 - fit
    assert health["spool_full"] and health["state"] == "unreachable" and not health["healthy"]
    assert health["spool_bytes"] <= health["spool_max_bytes"]
    # Loud, not a flood: one ERROR for the drops of one complain_every (30 s by default).
    assert sum("the spool is full" in r.getMessage() for r in caplog.records) == 1
    assert publisher.stats.spooled_total == fit
    assert any("the bus is unreachable" in r.getMessage() for r in caplog.records)
    assert numbers(tap.drain()) == list(range(fit))


# --- recovery paths: what a restart, a damaged file or a full disk leaves -----------------------


def details(spool: Spool, limit: int = 100) -> list[int]:
    return [json.loads(e["Detail"])["n"] for _, e in spool.peek(limit)]


@pytest.mark.parametrize("text", ["garbage", "12x", "1.5", "\x00\x01"])
def test_an_unreadable_offset_sends_the_spool_again_from_its_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    """Sent twice (handlers are idempotent) rather than skipped: nothing is lost."""
    (tmp_path / "spool.jsonl").write_bytes(b"".join(encode_line(entry(n)) for n in range(3)))
    (tmp_path / "spool.offset").write_text(text)
    with caplog.at_level(logging.WARNING, logger="qqbus_relay.spool"):
        spool = Spool(tmp_path)
    assert spool.pending == 3 and details(spool) == [0, 1, 2]
    assert spool.pending_bytes == spool.path.stat().st_size
    assert any("unreadable spool offset" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("written", ["{at}", " {at}\n", "{at}\n"])
def test_a_readable_offset_resumes_after_what_was_sent(tmp_path: Path, written: str) -> None:
    first = encode_line(entry(0))
    (tmp_path / "spool.jsonl").write_bytes(first + encode_line(entry(1)) + encode_line(entry(2)))
    (tmp_path / "spool.offset").write_text(written.format(at=len(first)))
    spool = Spool(tmp_path)
    assert spool.pending == 2 and details(spool) == [1, 2]


@pytest.mark.parametrize("text", ["", "-40", "0"])
def test_an_empty_or_negative_offset_is_the_start(tmp_path: Path, text: str) -> None:
    (tmp_path / "spool.jsonl").write_bytes(encode_line(entry(0)) + encode_line(entry(1)))
    (tmp_path / "spool.offset").write_text(text)
    spool = Spool(tmp_path)
    assert spool.pending == 2 and details(spool) == [0, 1]


def test_blank_lines_are_passed_over_at_the_head_and_between_entries(tmp_path: Path) -> None:
    blank = b"  \n\n"
    (tmp_path / "spool.jsonl").write_bytes(
        blank + encode_line(entry(0)) + b"\n" + encode_line(entry(1)) + blank + encode_line(entry(2))
    )
    spool = Spool(tmp_path)
    size = spool.path.stat().st_size
    assert spool.pending == 3  # blank lines are not entries
    got = spool.peek(10)
    assert [json.loads(e["Detail"])["n"] for _, e in got] == [0, 1, 2]  # one peek: blanks do not end it
    assert got[-1][0] == size  # the offset after the last entry is the end of the file
    # The blank head is done with at once: only the entries' bytes are still pending.
    assert spool.pending_bytes == size - len(blank) and spool.quarantined == 0
    assert Spool(tmp_path).pending == 3  # a restart before anything was sent sends all three
    spool.advance(got[0][0], 1)
    assert Spool(tmp_path).pending == 2 and details(Spool(tmp_path)) == [1, 2]
    spool.advance(got[-1][0], 2)
    assert spool.pending == 0 and spool.path.stat().st_size == 0


def test_a_spool_of_blank_lines_only_is_emptied_and_never_spins(tmp_path: Path) -> None:
    (tmp_path / "spool.jsonl").write_bytes(b"\n \n\n")
    spool = Spool(tmp_path)
    assert spool.pending == 0 and spool.peek(10) == []
    assert spool.append([entry(7)]) == [True]
    assert details(spool) == [7]


def test_the_cap_takes_an_entry_that_fits_exactly_and_not_one_byte_more(tmp_path: Path) -> None:
    lines = [len(encode_line(entry(n))) for n in range(2)]
    exact = Spool(tmp_path / "exact", max_bytes=sum(lines))
    assert exact.append([entry(0), entry(1)]) == [True, True] and not exact.full
    short = Spool(tmp_path / "short", max_bytes=sum(lines) - 1)
    assert short.append([entry(0), entry(1)]) == [True, False] and short.full
    assert short.pending == 1 and short.pending_bytes == lines[0]
    assert Spool(tmp_path / "short").pending == 1  # what was refused was never written


def test_full_stays_set_after_a_partial_write_until_something_drains(tmp_path: Path) -> None:
    small, big = entry(0), entry(1, "y" * 500)
    cap = 2 * len(encode_line(small)) + 10
    spool = Spool(tmp_path, max_bytes=cap)
    assert not spool.full
    # A partial write: the big one does not fit, the small ones around it do.
    assert spool.append([small, big, entry(2)]) == [True, False, True]
    assert spool.full and spool.pending == 2
    assert details(spool) == [0, 2]
    assert spool.append([]) == [] and spool.full  # nothing written, nothing drained: still full
    got = spool.peek(1)
    assert spool.full  # peeking is not draining
    spool.advance(got[0][0], 1)
    assert not spool.full  # something drained: room again
    assert spool.append([entry(3)]) == [True] and not spool.full
    assert details(spool) == [2, 3]


def test_full_is_cleared_by_a_drain_that_empties_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=len(encode_line(entry(0))))
    assert spool.append([entry(0), entry(1)]) == [True, False] and spool.full
    ((offset, _),) = spool.peek(1)
    spool.advance(offset, 1)
    assert not spool.full and spool.pending == 0


def test_draining_everything_resets_both_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([entry(n) for n in range(3)])
    got = spool.peek(10)
    spool.advance(got[1][0], 2)
    assert spool.pending == 1 and spool.path.stat().st_size > 0
    assert (tmp_path / "spool.offset").read_text() == str(got[1][0])
    spool.advance(got[2][0], 1)
    # Both files emptied: the spool does not grow with what was sent.
    assert spool.path.stat().st_size == 0 and (tmp_path / "spool.offset").read_text() == "0"
    assert (spool.pending, spool.pending_bytes) == (0, 0)
    # What comes next is written from the start and found there, now and after a restart.
    assert spool.append([entry(9)]) == [True]
    assert details(spool) == [9] and spool.pending_bytes == spool.path.stat().st_size
    restarted = Spool(tmp_path)
    assert restarted.pending == 1 and details(restarted) == [9]


def test_an_advance_past_more_than_was_counted_resets_rather_than_going_negative(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([entry(0)])
    ((offset, _),) = spool.peek(1)
    spool.advance(offset, 5)
    assert spool.pending == 0 and spool.path.stat().st_size == 0
    assert spool.append([entry(1)]) == [True] and spool.pending == 1 and details(spool) == [1]


@pytest.mark.parametrize(
    "line, why",
    [
        (b"{}\n", "no Source, DetailType, Detail"),
        (b'{"Source":"s","DetailType":5,"Detail":"{}"}\n', "no DetailType"),
        (b"[1]\n", "a JSON list, not an entry"),
        (b"\xff\n", "not JSON"),
    ],
)
def test_a_line_that_is_not_an_entry_says_why(line: bytes, why: str) -> None:
    assert decode_entry(line) == why or str(decode_entry(line)).startswith(why)


def test_a_second_relay_on_the_same_spool_is_refused_until_the_first_stops(tmp_path: Path) -> None:
    held = lock_directory(tmp_path)
    try:
        assert (tmp_path / "relay.lock").read_text() == str(os.getpid())
        with pytest.raises(SpoolInUse, match=rf"in use by another relay \(pid {os.getpid()}\)"):
            lock_directory(tmp_path)
    finally:
        held.close()
    lock_directory(tmp_path).close()  # free again once the first let go


def test_a_bad_line_after_a_good_entry_waits_until_that_entry_is_sent(tmp_path: Path) -> None:
    """The offset never passes an entry not yet sent: a crash now would send e0, not skip it."""
    bad = b"not an entry\n"
    (tmp_path / "spool.jsonl").write_bytes(encode_line(entry(0)) + bad + encode_line(entry(1)))
    spool = Spool(tmp_path)
    assert spool.pending == 3
    before = spool.pending_bytes
    got = spool.peek(10)
    assert [json.loads(e["Detail"])["n"] for _, e in got] == [0]  # the bad line ends the run
    assert spool.quarantined == 0 and spool.pending_bytes == before and spool.pending == 3
    spool.advance(got[0][0], 1)
    assert details(spool) == [1] and spool.quarantined == 1 and spool.pending == 1
    assert details(spool) == [1] and spool.quarantined == 1  # quarantined once, not at every peek
    assert (tmp_path / "spool.quarantine").read_bytes() == bad
    assert Spool(tmp_path).pending == 1


def test_an_offset_at_the_end_sends_nothing_again(tmp_path: Path) -> None:
    """Everything sent, the file not yet emptied (a crash just then): nothing is sent twice."""
    data = encode_line(entry(0)) + encode_line(entry(1))
    (tmp_path / "spool.jsonl").write_bytes(data)
    (tmp_path / "spool.offset").write_text(str(len(data)))
    spool = Spool(tmp_path)
    assert spool.pending == 0 and spool.peek(10) == []


def test_an_offset_past_the_end_is_reset_on_disk_too(tmp_path: Path) -> None:
    """Left on disk, the stale offset would skip entries appended later, at the next restart."""
    first = encode_line(entry(0))
    (tmp_path / "spool.jsonl").write_bytes(first)
    (tmp_path / "spool.offset").write_text(str(len(first) + 50))
    spool = Spool(tmp_path)
    assert spool.append([entry(n, "z" * 40) for n in range(1, 4)]) == [True] * 3
    assert details(Spool(tmp_path)) == [0, 1, 2, 3]


def test_a_spool_directory_is_made_with_its_parents(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "a" / "b")
    assert spool.append([entry(0)]) == [True] and details(Spool(tmp_path / "a" / "b")) == [0]


def test_lines_hold_text_as_utf8_not_escapes() -> None:
    assert encode_line({"t": "中文"}) == '{"t":"中文"}\n'.encode()


@pytest.mark.parametrize("cut", [65_535, 65_536, 70_000, 150_000])
def test_a_torn_tail_longer_than_the_read_chunk_is_cut_at_its_own_line(tmp_path: Path, cut: int) -> None:
    """The tail is looked for 64 KiB at a time from the end; the entry before it is kept whole,
    wherever its newline falls (65,535: at the very start of the last chunk)."""
    big = encode_line(entry(1, "b" * 200_000))
    (tmp_path / "spool.jsonl").write_bytes(encode_line(entry(0)) + big[:cut])
    spool = Spool(tmp_path)
    assert spool.pending == 1 and spool.quarantined == 1 and details(spool) == [0]
    assert (tmp_path / "spool.quarantine").read_bytes() == big[:cut] + b"\n"


def test_a_long_last_line_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    big = encode_line(entry(1, "b" * 200_000))
    (tmp_path / "spool.jsonl").write_bytes(encode_line(entry(0)) + big[:-1])
    spool = Spool(tmp_path)
    assert details(spool) == [0, 1] and spool.quarantined == 0


def test_a_torn_first_and_only_line_is_quarantined(tmp_path: Path) -> None:
    (tmp_path / "spool.jsonl").write_bytes(encode_line(entry(0, "c" * 70_000))[:-500])
    spool = Spool(tmp_path)
    assert spool.pending == 0 and spool.quarantined == 1 and spool.path.stat().st_size == 0


def test_the_spool_keeps_order_and_count_while_it_compacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drained, compacted, appended to and restarted in turn: each entry comes out once, in order."""
    monkeypatch.setattr(spool_module, "COMPACT_AT", 1500)
    spool = Spool(tmp_path)
    spool.append([entry(n, "x" * 50) for n in range(60)])
    seen: list[int] = []
    next_n = 60
    for round_ in range(8):
        lines = spool.peek(7)
        seen += [json.loads(e["Detail"])["n"] for _, e in lines]
        spool.advance(lines[-1][0], len(lines))
        # The same object, and a restart right after this advance, agree on what is left.
        restarted = Spool(tmp_path)
        assert restarted.pending == spool.pending and restarted.pending_bytes == spool.pending_bytes
        assert details(restarted, 1000) == details(spool, 1000)
        if round_ % 3 == 0:
            spool.append([entry(next_n, "x" * 50)])
            next_n += 1
    seen += details(spool, 1000)
    assert seen == list(range(next_n))
    assert spool.path.stat().st_size < 60 * 100  # compacted along the way
