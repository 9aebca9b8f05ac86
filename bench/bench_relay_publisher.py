"""Relay publisher throughput on moto: batched (10 per PutEvents) against one entry per call.

Run: .venv/bin/python bench/bench_relay_publisher.py. Both are measured in this run on the same
in-process moto bus, so the ratio says what batching buys, whatever moto's own speed.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

import boto3
from moto import mock_aws
from qqbus.detail import build_entry
from qqbus.publish import EventBridgePublisher
from qqbus_dev import moto_speedups
from qqbus_relay.publisher import RelayPublisher

N = 1000


async def relay_run(bus: EventBridgePublisher, spool: Path) -> float:
    publisher = RelayPublisher(bus, spool, flush_delay=0.005)
    runner = asyncio.create_task(publisher.run())
    started = time.perf_counter()
    for n in range(N):
        await publisher.submit(
            build_entry(source="bench", detail_type="t", detail={"n": n}, bus_name="bench")
        )
    while publisher.stats.published < N:
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    await publisher.close()
    await runner
    return elapsed


def main() -> None:
    moto_speedups.apply((moto_speedups.JSONPATH_PARSE,))
    with mock_aws(), tempfile.TemporaryDirectory() as tmp:
        client = boto3.client("events")
        client.create_event_bus(Name="bench")
        bus = EventBridgePublisher(events=client)
        started = time.perf_counter()
        for n in range(N):
            bus.put([build_entry(source="bench", detail_type="t", detail={"n": n}, bus_name="bench")])
        single = time.perf_counter() - started
        batched = asyncio.run(relay_run(bus, Path(tmp)))
    print(f"{N} entries, one per PutEvents: {N / single:.0f}/s (baseline)")
    print(f"  RelayPublisher (batched): {N / batched:.0f}/s = {single / batched:.1f}x baseline")


if __name__ == "__main__":
    main()
