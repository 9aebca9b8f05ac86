"""The QQ gateway relay end to end: a fake gateway's dispatches onto a bus, against its floor.

Run: .venv/bin/python bench/bench_relay_gateway.py. Three processes, as in production: the fake
QQ platform of the relay tests (token, /gateway/bot and a websocket gateway on 127.0.0.1 that
sends READY, then N dispatches as fast as it can); the real relay in this process
(``QQGatewayRelay`` + ``RelayPublisher`` + its spool); and the bus, a moto server reached over
HTTP as EventBridge is. Counted: entries the bus accepted (the publisher's ``published``), from
READY (the platform's clock, the same machine's) to the last.

- ours: the relay as it ships (up to 10 entries per PutEvents, up to 4 calls out at a time, each
  batch sent as soon as a call slot is free);
- ours, one call out (``--max-in-flight 1``): order kept between calls, one round trip at a time;
- floor: the same relay putting one entry per PutEvents call (``max_entries=1``).

Printed: events/s of both and the ratio (goal >= 10x), and the first event's latency on the bus
after READY (median; goal <= 100 ms). Runs alternate.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
import boto3
from qqbus.publish import EventBridgePublisher
from qqbus_relay.publisher import DEFAULT_MAX_IN_FLIGHT, RelayPublisher
from qqbus_relay.qq_gateway import GatewayConfig, QQGatewayRelay

ROOT = Path(__file__).resolve().parents[1]  # the fake platform is the relay tests' (tests/relay)

N = 1000
ROUNDS = 3


GATEWAY = """
import asyncio, sys, time
sys.path.insert(0, sys.argv[2])
from tests.relay.fake_qq import FakeQQ


class Timed(FakeQQ):
    async def _send_dispatch(self, ws, session, t, d, event_id=""):
        await super()._send_dispatch(ws, session, t, d, event_id)
        if t == "READY":
            self.ready_at = time.time()

async def main():
    fake = Timed(int(sys.argv[1]), {}, heartbeat_ms=30_000, burst=int(sys.argv[1]))
    await fake.start()
    print(fake.http_url, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(fake.ready_at, flush=True)

asyncio.run(main())
"""


async def one_run(
    endpoint: str, bus: str, max_entries: int, max_in_flight: int, spool: Path
) -> tuple[float, float]:
    """(events/s from READY to the last accepted, ms from READY to the first accepted)."""
    fake = subprocess.Popen(
        [sys.executable, "-c", GATEWAY, str(N), str(ROOT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None and fake.stdin is not None
    http_url = fake.stdout.readline().strip()
    events = boto3.client("events", endpoint_url=endpoint)
    publisher = RelayPublisher(
        EventBridgePublisher(events=events), spool, max_entries=max_entries, max_in_flight=max_in_flight
    )
    config = GatewayConfig(
        app_id="1024",
        secret="s3cret",
        bus_name=bus,
        api_base=http_url,
        token_url=http_url + "/app/getAppAccessToken",
        identify_window=0.01,
        proxy=None,
    )
    relay = QQGatewayRelay(config, publisher)
    pub_task = asyncio.create_task(publisher.run())
    relay_task = asyncio.create_task(relay.run())
    first = None
    while publisher.stats.published < N:
        if first is None and publisher.stats.published:
            first = time.time()
        assert not relay_task.done(), relay_task
        await asyncio.sleep(0.0005)
    last = time.time()
    relay_task.cancel()
    await asyncio.gather(relay_task, return_exceptions=True)
    await publisher.close()
    await pub_task
    fake.stdin.write("report\n")
    fake.stdin.flush()
    ready_at = float(fake.stdout.readline())
    fake.kill()
    fake.wait()
    assert first is not None
    return N / (last - ready_at), (first - ready_at) * 1000


BUS = """
import logging, sys, time
from moto.server import ThreadedMotoServer
from qqbus_dev import moto_speedups
logging.getLogger("werkzeug").setLevel(logging.WARNING)
moto_speedups.apply((moto_speedups.MOTO_MODULE_LIST,))
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
print("ready", flush=True)
sys.stdin.read()
"""


def start_bus() -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bus = subprocess.Popen(
        [sys.executable, "-c", BUS, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert bus.stdout is not None and bus.stdout.readline().strip() == "ready"
    return bus, f"http://127.0.0.1:{port}"


def main() -> None:
    logging.disable(logging.WARNING)
    server, endpoint = start_bus()
    boto3.client("events", endpoint_url=endpoint).create_event_bus(Name="bench")
    ours, one, floor, latency = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(ROUNDS):
            rate, first_ms = asyncio.run(
                one_run(endpoint, "bench", 10, DEFAULT_MAX_IN_FLIGHT, Path(tmp) / f"ours{n}")
            )
            ours.append(rate)
            latency.append(first_ms)
            one.append(asyncio.run(one_run(endpoint, "bench", 10, 1, Path(tmp) / f"one{n}"))[0])
            floor.append(asyncio.run(one_run(endpoint, "bench", 1, 1, Path(tmp) / f"floor{n}"))[0])
    server.communicate("")  # its stdin closes: it exits
    o, w, f = statistics.median(ours), statistics.median(one), statistics.median(floor)
    print(
        f"relay, fake gateway -> bus, {N} dispatches: one entry per PutEvents {f:,.0f} events/s (floor),"
        f" ours {o:,.0f} events/s = {o / f:.2f}x (goal >= 10x)"
    )
    print(f"  with --max-in-flight 1 (order kept between calls): {w:,.0f} events/s = {w / f:.2f}x")
    print(f"  first event on the bus {statistics.median(latency):.0f} ms after READY (goal <= 100 ms)")


if __name__ == "__main__":
    main()
