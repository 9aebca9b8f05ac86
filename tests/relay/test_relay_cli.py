"""`qqbus relay onebot|qq` as processes: events onto a bus (moto server), health, signals, exit codes."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from qqbus_relay.runner import Relay, RelayOptions
from qqbus_relay.spool import Spool
from websockets.sync.client import connect

from tests.relay.conftest import Blackhole, ServerBus, process_env
from tests.relay.fake_qq import FakeQQ

T = TypeVar("T")
EVENT = {"time": 1718000000, "self_id": 42, "post_type": "notice", "notice_type": "friend_add", "user_id": 7}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "qqbus_dev", "relay", *args, "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_until(check: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise AssertionError(
                f"the relay exited with {proc.returncode}:\n{proc.stdout.read() if proc.stdout else ''}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out:\n{proc.communicate()[0]}")
        time.sleep(0.1)


def messages(out: str) -> list[str]:
    return [json.loads(line)["message"] for line in out.splitlines() if line.startswith("{")]


def send_events(port: int, events: list[dict[str, Any]], token: str = "tok") -> None:
    with connect(
        f"ws://127.0.0.1:{port}/?access_token={token}", additional_headers={"X-Self-ID": "42"}, proxy=None
    ) as ws:
        for event in events:
            ws.send(json.dumps(event))
        time.sleep(0.2)


def onebot_args(bus: str, endpoint: str, ws_port: int, health_port: int, spool: Path) -> list[str]:
    return [
        "onebot",
        "--bus",
        bus,
        "--endpoint-url",
        endpoint,
        "--listen",
        f"127.0.0.1:{ws_port}",
        "--health",
        f"127.0.0.1:{health_port}",
        "--spool-dir",
        str(spool),
    ]


def test_relay_process_publishes_reports_health_and_stops_on_sigterm(
    server_bus: ServerBus, tmp_path: Path
) -> None:
    ws_port, health_port = free_port(), free_port()
    url = f"http://127.0.0.1:{health_port}/health"
    proc = start(
        onebot_args(server_bus.name, server_bus.endpoint, ws_port, health_port, tmp_path / "spool"),
        process_env(ONEBOT_ACCESS_TOKEN="tok"),
    )
    wait_until(lambda: health(url)[0] == 200, proc)
    send_events(ws_port, [EVENT])
    wait_until(lambda: health(url)[1]["publisher"]["published"] == 1, proc)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert any("1 published, 0 spooled" in m for m in messages(out)), out
    body = server_bus.drain()[0]
    assert body["detail"]["payload"] == EVENT and body["detail"]["transport"] == "reverse_ws"


def test_local_mode_needs_no_aws_credentials(server_bus: ServerBus, tmp_path: Path) -> None:
    """`qqbus relay onebot --local` with no credentials anywhere reaches the dev stack's bus.

    It used to spool every event quietly (botocore found no credentials for the embedded AWS).
    """
    state = tmp_path / "dev.json"
    state.write_text(
        json.dumps({"aws_endpoint": server_bus.endpoint, "region": "us-east-1", "bus": server_bus.name})
    )
    env = {k: v for k, v in process_env().items() if not k.startswith("AWS_")} | {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "ONEBOT_ACCESS_TOKEN": "tok",
    }
    ws_port, health_port = free_port(), free_port()
    url = f"http://127.0.0.1:{health_port}/health"
    proc = start(
        [
            "onebot",
            "--local",
            "--state-file",
            str(state),
            "--listen",
            f"127.0.0.1:{ws_port}",
            "--health",
            f"127.0.0.1:{health_port}",
            "--spool-dir",
            str(tmp_path / "spool"),
        ],
        env,
    )
    wait_until(lambda: health(url)[0] == 200, proc)
    send_events(ws_port, [EVENT])
    wait_until(lambda: len(server_bus.drain()) == 1, proc)
    status, state_now = health(url)
    assert (
        status == 200 and state_now["publisher"]["spooled"] == 0 and state_now["publisher"]["state"] == "ok"
    )
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and not any("no AWS credentials" in m for m in messages(out)), out


def test_an_unreachable_bus_is_loud(tmp_path: Path) -> None:
    """Nothing listens at the endpoint: an ERROR line, /health 503, and the event waits in the spool."""
    ws_port, health_port, dead_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{health_port}/health"
    proc = start(
        onebot_args("bus", f"http://127.0.0.1:{dead_port}", ws_port, health_port, tmp_path / "spool"),
        process_env(ONEBOT_ACCESS_TOKEN="tok"),
    )
    wait_until(lambda: health(url)[0] == 200, proc)
    send_events(ws_port, [EVENT])
    wait_until(lambda: health(url)[0] == 503, proc, timeout=30)
    state = health(url)[1]
    assert state["healthy"] is False and state["publisher"]["state"] == "unreachable"
    assert state["publisher"]["spooled"] == 1 and "Could not connect" in state["publisher"]["last_error"]
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(line["level"] == "ERROR" and "the bus is unreachable" in line["message"] for line in lines), (
        out
    )
    assert Spool(tmp_path / "spool").pending == 1


@pytest.mark.slow  # a soak: `make test-slow` (and CI) runs it
def test_sigterm_with_a_backlog_and_a_hung_bus_exits_within_the_stop_timeout(
    tmp_path: Path, blackhole: Blackhole
) -> None:
    """Container engines SIGKILL 10 s after SIGTERM: the relay is out by 8 s, the backlog spooled."""
    ws_port, health_port = free_port(), free_port()
    url = f"http://127.0.0.1:{health_port}/health"
    proc = start(
        onebot_args("bus", blackhole.url, ws_port, health_port, tmp_path / "spool"),
        process_env(ONEBOT_ACCESS_TOKEN="tok"),
    )
    wait_until(lambda: health(url)[0] == 200, proc)
    send_events(ws_port, [EVENT | {"user_id": n} for n in range(300)])
    wait_until(
        lambda: blackhole.accepted > 0 and health(url)[1]["onebot"]["reverse"]["published"] == 300, proc
    )
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    elapsed = time.monotonic() - signalled
    assert proc.returncode == 0, out
    assert elapsed < 9.0, (elapsed, out)
    spool = Spool(tmp_path / "spool")
    assert spool.pending == 300
    assert [json.loads(e["Detail"])["payload"]["user_id"] for _, e in spool.peek(300)] == list(range(300))


class FakeQQThread:
    """The fake QQ platform on its own event loop in a thread, for a relay in another process."""

    def __init__(self, total: int, faults: dict[int, str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = FakeQQ(total, faults, heartbeat_ms=300)
        self.run(self.fake.start())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def call(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()

        return self.run(call())

    def stop(self) -> None:
        self.run(self.fake.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.mark.slow  # a soak: `make test-slow` (and CI) runs it
def test_relay_qq_process_resumes_its_session_after_sigkill(server_bus: ServerBus, tmp_path: Path) -> None:
    """Killed with SIGKILL, restarted: it resumes the saved session; what was sent meanwhile arrives."""
    qq = FakeQQThread(300, {150: "hold"})
    qq.fake.token_failures = ["503"]  # a transient token failure is retried, not exit 2
    spool = tmp_path / "spool"
    health_port = free_port()
    url = f"http://127.0.0.1:{health_port}/health"
    args = [
        "qq",
        "--bus",
        server_bus.name,
        "--endpoint-url",
        server_bus.endpoint,
        "--api-base",
        qq.fake.http_url,
        "--token-url",
        qq.fake.http_url + "/app/getAppAccessToken",
        "--spool-dir",
        str(spool),
        "--health",
        f"127.0.0.1:{health_port}",
    ]
    env = process_env(QQ_BOT_APPID="1024", QQ_BOT_SECRET="s3cret")
    session_file = spool / "qq-session-1024-0of1.json"

    def ids() -> list[str]:
        return [e["detail"]["event_id"] for e in server_bus.drain()]

    try:
        first = start(args, env)
        wait_until(lambda: len(ids()) == 150, first)
        # READY is seq 1, event k is seq k + 2: everything up to event 149 is on the bus.
        wait_until(lambda: json.loads(session_file.read_text())["seq"] == 151, first)
        first.kill()
        first.communicate(timeout=10)
        qq.call(lambda: qq.fake.offline(20))  # the platform goes on while the relay is down

        second = start(args, env)
        wait_until(lambda: len(ids()) == 300, second, timeout=90)
        state = health(url)[1]["qq"]["shards"][0]
        assert state["restored"] is True and state["identifies"] == 0 and state["resumes"] == 1
        qq.call(qq.fake.finish.set)  # the gateway closes with 4914: exit 2, do not restart
        out, _ = second.communicate(timeout=30)
        assert second.returncode == 2 and any("4914" in m for m in messages(out)), out
        assert qq.fake.identifies == 1 and qq.fake.resumes == [151], qq.fake.log
        assert qq.fake.tokens_issued >= 2
        assert sorted(ids()) == sorted(f"EVT:{k}" for k in range(300))  # each exactly once
    finally:
        qq.stop()


def test_relay_without_a_bus_says_so() -> None:
    env = {k: v for k, v in process_env().items() if k != "EVENT_BUS_NAME"}
    proc = subprocess.run(
        [sys.executable, "-m", "qqbus_dev", "relay", "onebot", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "EVENT_BUS_NAME" in proc.stderr


def test_relay_without_a_region_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in process_env().items() if k not in ("AWS_DEFAULT_REGION", "AWS_REGION")} | {
        "AWS_CONFIG_FILE": str(tmp_path / "none")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "qqbus_dev", "relay", "onebot", "--bus", "b", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--region" in proc.stderr and "Traceback" not in proc.stderr


def test_two_relays_cannot_share_a_spool_dir(tmp_path: Path) -> None:
    def options() -> RelayOptions:
        return RelayOptions(
            bus_name="b",
            spool_dir=tmp_path / "spool",
            onebot_listen=("127.0.0.1", 0),
            health=None,
            events_client=boto3.client("events", endpoint_url="http://127.0.0.1:9"),
        )

    async def scenario() -> tuple[int, int]:
        first = Relay(options())
        task = asyncio.create_task(first.run(install_signal_handlers=False))
        while first.onebot_server is None or first.onebot_server.server is None:
            await asyncio.sleep(0.02)
        second = await Relay(options()).run(install_signal_handlers=False)
        first.stop()
        return second, await task

    assert asyncio.run(scenario()) == (2, 0)


def test_the_relay_exits_non_zero_when_its_publisher_dies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The spool cannot be written (a broken disk) while the bus is down: the publisher task dies,
    and the relay stops with 1 (restart) instead of accepting events it will never send."""
    dead_port = free_port()
    spool = tmp_path / "spool"
    options = RelayOptions(
        bus_name="b",
        spool_dir=spool,
        onebot_listen=("127.0.0.1", 0),
        health=None,
        events_client=boto3.client("events", endpoint_url=f"http://127.0.0.1:{dead_port}"),
    )

    async def scenario() -> int:
        relay = Relay(options)
        relay.publisher.retry_base = relay.publisher.retry_max = 0.01
        task = asyncio.create_task(relay.run(install_signal_handlers=False))
        while relay.onebot_server is None or relay.onebot_server.server is None:
            await asyncio.sleep(0.02)
        (spool / "spool.jsonl").unlink()
        (spool / "spool.jsonl").mkdir()
        port = relay.onebot_server.server.sockets[0].getsockname()[1]
        await asyncio.to_thread(send_events, port, [EVENT], "")
        return await asyncio.wait_for(task, 30)

    assert asyncio.run(scenario()) == 1
    assert any("publisher failed" in r.getMessage() for r in caplog.records)


@pytest.fixture
def relay_cli(monkeypatch: pytest.MonkeyPatch) -> list[RelayOptions]:
    """``qqbus relay`` parsed but not run: the options each ``cli.main`` would run with.

    cli.main sets the root logger's handler on the stderr of the moment (pytest's capture,
    closed after the test): the root logger is restored, so later tests on the worker can log."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    seen: list[RelayOptions] = []
    monkeypatch.setattr("qqbus_relay.runner.run_blocking", lambda options: seen.append(options) or 0)
    return seen


@pytest.mark.parametrize("platform", ["qq", "onebot"])
def test_qq_and_onebot_relays_default_to_their_own_spool_and_health_port(
    platform: str, monkeypatch: pytest.MonkeyPatch, relay_cli: list[RelayOptions]
) -> None:
    from qqbus_dev import cli

    seen = relay_cli
    for name in ("QQBUS_SPOOL_DIR", "QQBUS_HEALTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QQ_BOT_APPID", "1")
    monkeypatch.setenv("QQ_BOT_SECRET", "s")
    extra = ["--listen", "127.0.0.1:0"] if platform == "onebot" else []
    assert cli.main(["relay", platform, "--bus", "b", *extra]) == 0
    assert seen[0].spool_dir == Path(f".qqbus/spool/{platform}")
    assert seen[0].health == ("127.0.0.1", 8081 if platform == "qq" else 8082)


def test_max_in_flight_reaches_the_publisher_and_is_checked(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    relay_cli: list[RelayOptions],
) -> None:
    from qqbus_dev import cli
    from qqbus_relay.runner import Relay

    seen = relay_cli
    args = ["relay", "onebot", "--bus", "b", "--listen", "127.0.0.1:0"]
    monkeypatch.delenv("QQBUS_MAX_IN_FLIGHT", raising=False)
    assert cli.main(args) == 0 and seen[-1].max_in_flight == 4  # the default: a far bus
    monkeypatch.setenv("QQBUS_MAX_IN_FLIGHT", "3")
    assert cli.main(args) == 0 and seen[-1].max_in_flight == 3
    assert cli.main([*args, "--max-in-flight", "8"]) == 0 and seen[-1].max_in_flight == 8
    seen[-1].spool_dir = tmp_path / "spool"
    assert Relay(seen[-1]).publisher.max_in_flight == 8
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*args, "--max-in-flight", "0"])
    assert exit_info.value.code == 2 and "--max-in-flight: 0 is not 1 to 32" in capsys.readouterr().err
    # A bad QQBUS_MAX_IN_FLIGHT is the same clear exit 2 (checked as the flag is), never a traceback.
    for bad, said in (("0", "0 is not 1 to 32"), ("33", "33 is not 1 to 32"), ("four", "'four' is not")):
        monkeypatch.setenv("QQBUS_MAX_IN_FLIGHT", bad)
        with pytest.raises(SystemExit) as exit_info:
            cli.main(args)
        assert exit_info.value.code == 2 and f"--max-in-flight: {said}" in capsys.readouterr().err
    # Other commands do not read it: a bad value does not stop them.
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["invoke", "--help"])
    assert exit_info.value.code == 0


def test_a_qq_actions_relay_needs_its_queue_and_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], relay_cli: list[RelayOptions]
) -> None:
    from qqbus_dev import cli

    for name in ("QQ_BOT_APPID", "QQ_BOT_SECRET", "QQBUS_QQ_ACTIONS_QUEUE_URL", "QQBUS_FAILURE_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    base = ["relay", "qq", "--bus", "b", "--no-gateway"]
    assert cli.main([*base, "--app-id", "1", "--secret", "s"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--actions-queue" in err and "Traceback" not in err
    assert cli.main([*base, "--actions-queue", "http://q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--app-id and --secret" in err
    assert relay_cli == []  # neither was started

    queue, failures = "http://sqs.local/1/qq-relay-actions", "http://sqs.local/1/failures"
    args = [*base, "--app-id", "1", "--secret", "s", "--actions-queue", queue, "--failure-queue", failures]
    assert cli.main([*args, "--sandbox"]) == 0
    options = relay_cli[-1]
    assert (
        options.qq is None and options.qq_actions_queue_url == queue and options.failure_queue_url == failures
    )
    assert options.qq_credentials is not None
    assert (options.qq_credentials.app_id, options.qq_credentials.secret) == ("1", "s")
    assert options.qq_credentials.api_base == "https://sandbox.api.sgroup.qq.com"
    # With the gateway (the default) the same relay also holds the websocket, on the same API.
    monkeypatch.setenv("QQBUS_QQ_ACTIONS_QUEUE_URL", queue)
    assert cli.main(["relay", "qq", "--bus", "b", "--app-id", "1", "--secret", "s"]) == 0
    options = relay_cli[-1]
    assert options.qq is not None and options.qq_actions_queue_url == queue
    assert options.qq.api_base == "https://api.sgroup.qq.com"
