"""`qqbus dev` in a subprocess, for the end-to-end tests: start it, post to it, read its state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from qqbus_dev.send import post, prepare


class Stack:
    def __init__(
        self,
        proc: subprocess.Popen[str],
        state: dict[str, Any],
        state_file: Path,
        log: Path,
        log_from: int = 0,
    ) -> None:
        self.proc = proc
        self.state_file = state_file
        self.state = state
        self.http = state["http"]
        self.log_path = log
        self.log_from = log_from  # a restart appends to the log of the run before

    def log(self) -> str:
        """Everything this run of the stack printed so far."""
        return self.log_path.read_bytes()[self.log_from :].decode("utf-8", errors="replace")

    def client(self, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=self.state["aws_endpoint"], region_name=self.state["region"]
        )

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.http + path, timeout=5) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        return self.get("/_stats")  # type: ignore[no-any-return]

    def fake(self, name: str) -> list[dict[str, Any]]:
        """What the fake ``qq`` / ``onebot`` API received so far."""
        return self.get(f"/_fakes/{name}")  # type: ignore[no-any-return]

    def fail_next(self, name: str, status: int, body: Any = None, times: int = 1) -> None:
        data = json.dumps({"status": status, "body": body, "times": times}).encode()
        request = urllib.request.Request(f"{self.http}/_fakes/{name}/fail", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 204

    def trace(self, event_id: str, timeout: float = 30) -> dict[str, Any]:
        """The trace of ``event_id`` once it settled (every action has its result)."""
        return self.wait(lambda: _settled(self, event_id), timeout, f"the trace of {event_id}")

    def wait_for(self, check: Callable[[dict[str, Any]], bool], timeout: float = 45) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            stats = self.stats()
            return stats if check(stats) else None

        return self.wait(probe, timeout, "stats")  # type: ignore[no-any-return]

    def wait(self, probe: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            got = probe()
            if got:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; stats: {json.dumps(self.stats())}")
            time.sleep(0.1)

    def send(self, path: Path | bytes, *, fresh_time: bool = False) -> tuple[int, bytes]:
        raw = path.read_bytes() if isinstance(path, Path) else path
        return post(self.http, prepare(raw, fresh_time=fresh_time))

    def stop(self) -> str:
        """Ctrl-C, as a person stops it; what it printed (it must have stopped cleanly)."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        out = self.log()
        assert self.proc.returncode == 0, out
        return out


def _settled(stack: Stack, event_id: str) -> dict[str, Any] | None:
    try:
        trace = stack.get(f"/_trace/{event_id}")
    except OSError:
        return None
    return trace if trace["settled"] else None


def _pid_in(state_file: Path) -> Any:
    try:
        return json.loads(state_file.read_text()).get("pid")
    except (OSError, ValueError):
        return None


@contextmanager
def running_stack(tmp: Path, *args: str, name: str = "dev") -> Iterator[Stack]:
    """``qqbus dev`` on free ports with ``args``; its state file is ``tmp/<name>.json`` (its saved
    state beside it), its output goes to ``tmp/<name>.log``."""
    state_file = tmp / f"{name}.json"
    if "--state-dir" in args:  # the stack picks its state file's name itself
        state_file = Path(args[args.index("--state-dir") + 1]) / "dev.json"
        own_file: list[str] = []
    else:
        own_file = ["--state-file", str(state_file)]
    log = tmp / f"{name}.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "GROUPS_", "IDEMPOTENCY_", "ACTIONS_"))
    }
    command = [
        sys.executable,
        "-m",
        "qqbus_dev",
        "dev",
        "--port",
        "0",
        "--aws-port",
        "0",
        "--retry-delay",
        "0.05",
        "--project",  # it runs in tmp, outside any project: this checkout's (--template overrides it)
        str(Path(__file__).resolve().parents[2]),
    ]
    log_from = log.stat().st_size if log.exists() else 0
    with open(log, "a", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [*command, *own_file, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=tmp,
        )
    try:
        deadline = time.monotonic() + 60
        while _pid_in(state_file) != proc.pid:  # its own file, not one a killed run left
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the stack did not start:\n{log.read_text()[log_from:]}")
            time.sleep(0.1)
        stack = Stack(proc, json.loads(state_file.read_text()), state_file, log, log_from)
        # A new rate() schedule (the template's heartbeat, on a first start) fires at once, as in
        # Scheduler, before the stack says it is up: what a test counts starts once that ran.
        fired = stack.log().count("fired (heartbeat)")
        stack.wait_for(lambda s: s["functions"]["ScheduleFunction"]["invocations"] >= fired, timeout=30)
        yield stack
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
