"""The QQ gateway relay against a fake gateway that misbehaves, onto moto's EventBridge."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from qqbus.publish import EventBridgePublisher
from qqbus_relay.publisher import RelayPublisher
from qqbus_relay.qq_gateway import (
    GatewayConfig,
    GatewayStopped,
    QQGatewayRelay,
    SeqTracker,
    close_action,
)

from tests.relay.conftest import BusTap
from tests.relay.fake_qq import FakeQQ
from tests.relay.faults import PutEventsFaults

FAULTS = ["drop", "op7", "op9", "4009", "4006", "zombie"]
RESUMABLE = {"drop", "op7", "4009", "zombie"}


def config(fake: FakeQQ, bus: str, **kw: object) -> GatewayConfig:
    base = GatewayConfig(
        app_id="1024",
        secret="s3cret",
        bus_name=bus,
        api_base=fake.http_url,
        token_url=fake.http_url + "/app/getAppAccessToken",
        identify_window=0.01,
        backoff_initial=0.01,
        backoff_min=0.01,
        backoff_max=0.2,
        proxy=None,
    )
    for key, value in kw.items():
        setattr(base, key, value)
    return base


@pytest.mark.parametrize(
    "code, action",
    [
        (None, "resume"),
        (1006, "resume"),
        (1000, "resume"),
        (4008, "resume"),
        (4009, "resume"),
        (4006, "identify"),
        (4007, "identify"),
        (4004, "identify"),
        (4900, "identify"),
        (4914, "stop"),
        (4915, "stop"),
        (4001, "stop"),
        (4002, "stop"),
        (4010, "stop"),
        (4014, "stop"),
    ],
)
def test_close_code_policy(code: int | None, action: str) -> None:
    assert close_action(code) == action


def test_seq_tracker_resumes_from_the_last_seq_everything_before_which_is_safe() -> None:
    t = SeqTracker()
    assert all(t.admit(s) for s in (1, 2, 3, 4))
    t.settled(1, "published")
    t.settled(3, "spooled")
    assert t.resume_seq == 1 and t.last_received == 4
    t.settled(2, "rejected")  # refused for good: it stops holding the resume seq
    assert t.resume_seq == 3
    t.settled(4, "published")
    assert t.resume_seq == 4 and t.in_flight == 0


def test_seq_tracker_turns_away_replayed_seqs_but_not_dropped_ones() -> None:
    t = SeqTracker()
    assert all(t.admit(s) for s in range(1, 11))
    for s in range(1, 11):
        t.settled(s, "dropped" if s in (4, 5, 8) else "published")
    assert t.resume_seq == 3 and t.holes == 3
    # The gateway replays 4..10 after a resume from 3: only the dropped ones go out again.
    assert [s for s in range(4, 11) if t.admit(s)] == [4, 5, 8]
    assert t.duplicates == 4 and t.holes == 0 and t.resume_seq == 3
    for s in (4, 5, 8):
        t.settled(s, "published")
    assert t.resume_seq == 10
    assert t.admit(11) and not t.admit(11) and t.duplicates == 5


def test_seq_tracker_restored_from_a_saved_seq_treats_older_seqs_as_done() -> None:
    t = SeqTracker(start=41)
    assert t.resume_seq == 41
    assert not t.admit(40) and t.admit(42) and t.resume_seq == 41


@pytest.mark.slow  # a soak: `make test-slow` (and CI) runs it
def test_thousands_of_dispatches_with_faults_all_reach_the_bus(tap: BusTap, tmp_path: Path) -> None:
    total = 2000
    schedule = dict(zip(range(150, total, 110), itertools.cycle(FAULTS), strict=False))
    expected_resumes = sum(f in RESUMABLE for f in schedule.values())
    expected_identifies = 1 + sum(f not in RESUMABLE for f in schedule.values())
    seen: set[str] = set()
    copies = 0

    async def scenario() -> None:
        nonlocal copies
        fake = FakeQQ(total, schedule, heartbeat_ms=250)
        await fake.start()
        # One call out: this bus is moto in this process, whose work in the call threads would
        # starve the websocket loop (missed heartbeats, a reconnect storm) on a loaded machine.
        publisher = RelayPublisher(
            EventBridgePublisher(events=boto3.client("events")),
            tmp_path / "spool",
            flush_delay=0.01,
            max_in_flight=1,
        )
        relay = QQGatewayRelay(config(fake, tap.name), publisher)
        pub_task = asyncio.create_task(publisher.run())
        relay_task = asyncio.create_task(relay.run())
        deadline = time.monotonic() + 240
        while len(seen) < total:
            assert time.monotonic() < deadline, f"only {len(seen)} of {total}; log {fake.log[-10:]}"
            assert not relay_task.done(), relay_task
            for event in tap.take():
                copies += 1
                seen.add(event["detail"]["event_id"])
                assert event["detail"]["transport"] == "websocket" and event["detail"]["bot_id"] == "1024"
                assert event["source"] == "qq.official" and event["detail-type"] == "GROUP_AT_MESSAGE_CREATE"
            await asyncio.sleep(0.2)
        fake.finish.set()
        with pytest.raises(GatewayStopped, match="4914"):
            await asyncio.wait_for(relay_task, 30)
        await publisher.close()
        await pub_task
        await fake.stop()
        assert not fake.faults, f"faults not reached: {fake.faults}"
        assert fake.identifies == expected_identifies, fake.log
        # Every fault the protocol lets a client resume from was resumed, none re-identified.
        # (A busy test machine can delay an ACK past a heartbeat: that is one more resume.)
        assert len(fake.resumes) >= expected_resumes, "\n".join(fake.log)
        health = relay.health()["shards"][0]
        assert health["resumes"] == len(fake.resumes) and health["identifies"] == expected_identifies

    asyncio.run(scenario())
    assert seen == {f"EVT:{k}" for k in range(total)}
    # One entry per event: a replayed seq that was already submitted is not submitted again,
    # and frames lost in flight at a drop are replayed once.
    print(f"\nentries per event under {len(schedule)} faults: {copies / total:.3f}")
    assert copies == total


@pytest.mark.slow  # a soak: `make test-slow` (and CI) runs it
def test_seqs_replayed_after_a_resume_are_not_submitted_again(tap: BusTap, tmp_path: Path) -> None:
    """The issue's case: 2,000 events, a fault every 300, a slow bus so entries are in flight.

    Every frame the fake replays after a resume was received before (these faults close cleanly),
    so the relay must skip exactly as many as the fake replayed, and the bus gets each event once.
    """
    total = 2000
    schedule = dict(
        zip(range(300, total, 300), itertools.cycle(["op7", "4009", "op7", "4006"]), strict=False)
    )
    client = boto3.client("events")
    faults = PutEventsFaults(client, lambda call, n: "ThrottlingException" if call % 3 == 0 else None)
    seen: list[str] = []

    async def scenario() -> dict[str, object]:
        fake = FakeQQ(total, schedule, heartbeat_ms=2000)
        await fake.start()
        publisher = RelayPublisher(
            EventBridgePublisher(events=client), tmp_path / "spool", flush_delay=0.01, retry_base=0.05
        )
        relay = QQGatewayRelay(config(fake, tap.name), publisher)
        pub_task = asyncio.create_task(publisher.run())
        relay_task = asyncio.create_task(relay.run())
        deadline = time.monotonic() + 240
        while len(set(seen)) < total:
            assert time.monotonic() < deadline, f"only {len(set(seen))} of {total}; log {fake.log[-10:]}"
            assert not relay_task.done(), relay_task
            seen.extend(event["detail"]["event_id"] for event in tap.take())
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        seen.extend(event["detail"]["event_id"] for event in tap.drain())
        fake.finish.set()
        with pytest.raises(GatewayStopped, match="4914"):
            await asyncio.wait_for(relay_task, 30)
        await publisher.close()
        await pub_task
        await fake.stop()
        assert not fake.faults and len(fake.resumes) == 5, fake.log
        assert fake.replayed > 0, "no resume replayed anything: the test proves nothing"
        return {"replayed": fake.replayed, **relay.health()["shards"][0]}

    shard = asyncio.run(scenario())
    assert faults.injected > 0
    assert shard["duplicates_skipped"] == shard["replayed"]
    assert sorted(seen) == sorted(f"EVT:{k}" for k in range(total))  # each exactly once


def test_an_entry_refused_for_good_stops_holding_the_resume_seq(tap: BusTap, tmp_path: Path) -> None:
    client = boto3.client("events")

    def plan(call: int, n: int) -> list[str | None]:
        return ["ValidationException" if call == 1 and i == 0 else None for i in range(n)]

    PutEventsFaults(client, plan)

    async def scenario() -> dict[str, object]:
        fake = FakeQQ(20, {})
        await fake.start()
        publisher = RelayPublisher(EventBridgePublisher(events=client), tmp_path / "spool", flush_delay=0.01)
        relay = QQGatewayRelay(config(fake, tap.name), publisher)
        pub_task = asyncio.create_task(publisher.run())
        relay_task = asyncio.create_task(relay.run())
        for _ in range(500):
            if publisher.stats.published + publisher.stats.rejected >= 20:
                break
            await asyncio.sleep(0.02)
        shard = relay.health()["shards"][0]
        fake.finish.set()
        with pytest.raises(GatewayStopped):
            await asyncio.wait_for(relay_task, 30)
        await publisher.close()
        await pub_task
        await fake.stop()
        return shard

    shard = asyncio.run(scenario())
    assert shard["last_seq"] == 21  # READY is seq 1
    assert shard["resume_seq"] == 21 and shard["in_flight"] == 0
    rejected = (tmp_path / "spool" / "rejected.jsonl").read_text().splitlines()
    # The first call to reach the bus: with calls out together, not always the one with EVT:0.
    assert len(rejected) == 1, rejected
    refused = json.loads(json.loads(rejected[0])["entry"]["Detail"])
    assert refused["payload"]["id"] in {f"EVT:{k}" for k in range(20)}


def test_wrong_secret_stops_with_a_clear_error(tap: BusTap, tmp_path: Path) -> None:
    async def scenario() -> None:
        fake = FakeQQ(1, {})
        await fake.start()
        publisher = RelayPublisher(EventBridgePublisher(events=boto3.client("events")), tmp_path / "spool")
        relay = QQGatewayRelay(config(fake, tap.name, secret="wrong"), publisher)
        with pytest.raises(GatewayStopped, match="getAppAccessToken"):
            await relay.run()
        await fake.stop()

    asyncio.run(scenario())


def test_identifies_are_paced_to_max_concurrency_per_window() -> None:
    from qqbus_relay.qq_gateway import IdentifyLimiter

    async def scenario() -> list[float]:
        limiter = IdentifyLimiter(max_concurrency=2, window=0.3)
        started = time.monotonic()
        stamps = []
        for _ in range(5):
            await limiter.wait()
            stamps.append(time.monotonic() - started)
        return stamps

    stamps = asyncio.run(scenario())
    assert stamps[1] < 0.1  # two at once
    assert stamps[2] >= 0.29 and stamps[4] >= 0.59  # then two per window


def test_token_endpoint_failures_that_pass_are_retried_not_fatal(tmp_path: Path) -> None:
    """One 503 at a token refresh must not end a relay that ran for hours (the unit would not restart it)."""
    from qqbus_relay.qq_gateway import TokenSource

    async def scenario() -> tuple[str, int]:
        fake = FakeQQ(1, {})
        await fake.start()
        fake.token_failures = ["503", "html", "502", "429"]
        tokens = TokenSource(config(fake, "bus"))
        token = await asyncio.wait_for(tokens.get(), 20)
        await fake.stop()
        return token, tokens.http.failures

    token, failures = asyncio.run(scenario())
    assert token == "tok1" and failures == 4


def test_a_refused_token_request_stops_with_the_status(tmp_path: Path) -> None:
    from qqbus_relay.qq_gateway import TokenSource

    async def scenario() -> None:
        fake = FakeQQ(1, {})
        await fake.start()
        fake.token_failures = ["401"]
        with pytest.raises(GatewayStopped, match="HTTP 401"):
            await TokenSource(config(fake, "bus")).get()
        await fake.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("expires_in, fetches", [("7200", 1), ("59", 3)])
def test_access_token_is_refreshed_in_its_last_minute(tmp_path: Path, expires_in: str, fetches: int) -> None:
    from qqbus_relay.qq_gateway import TokenSource

    async def scenario() -> FakeQQ:
        fake = FakeQQ(1, {})
        await fake.start()
        fake.expires_in = expires_in
        tokens = TokenSource(config(fake, "bus"))
        got = [await tokens.get() for _ in range(3)]
        assert all(t.startswith("tok") for t in got)
        await fake.stop()
        return fake

    assert asyncio.run(scenario()).tokens_issued == fetches


class _UncarriableQQ(FakeQQ):
    """Event 2 carries NaN and event 4 a type with a control character: what ingress refuses."""

    def _next_event(self) -> tuple[str, dict[str, Any], str]:
        t, d, event_id = super()._next_event()
        k = self.cursor - 1
        if k == 2:
            d["content"] = float("nan")  # json.dumps writes NaN, as a careless server might
        if k == 4:
            t = "GROUP_AT\x01MESSAGE"
        return t, d, event_id


def test_dispatches_the_bus_cannot_carry_are_refused_and_resumed_past(tap: BusTap, tmp_path: Path) -> None:
    async def scenario() -> tuple[dict[str, Any], int]:
        fake = _UncarriableQQ(6, {})
        await fake.start()
        publisher = RelayPublisher(
            EventBridgePublisher(events=boto3.client("events")), tmp_path / "spool", flush_delay=0.01
        )
        relay = QQGatewayRelay(config(fake, tap.name), publisher)
        pub_task = asyncio.create_task(publisher.run())
        relay_task = asyncio.create_task(relay.run())
        for _ in range(500):
            shard = relay.health()["shards"]
            if shard and shard[0]["refused"] == 2 and publisher.stats.published >= 4:
                break
            await asyncio.sleep(0.02)
        shard = relay.health()["shards"][0]
        fake.finish.set()
        with pytest.raises(GatewayStopped):
            await asyncio.wait_for(relay_task, 30)
        await publisher.close()
        await pub_task
        await fake.stop()
        return shard, publisher.stats.published

    shard, published = asyncio.run(scenario())
    assert shard["refused"] == 2 and published == 4
    assert shard["resume_seq"] == shard["last_seq"] == 7  # READY is seq 1: nothing held back
    ids = sorted(e["detail"]["event_id"] for e in tap.drain())
    assert ids == ["EVT:0", "EVT:1", "EVT:3", "EVT:5"]
