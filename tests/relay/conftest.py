from __future__ import annotations

import json
import os
import socket
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws


class BusTap:
    """A bus on moto with a rule sending everything to a queue, drained in arrival order.

    A thread keeps the queue short while a test runs: moto's SQS receive scans the whole
    queue, so letting thousands of messages pile up makes the test quadratic.
    """

    def __init__(self, name: str, queue_url: str) -> None:
        self.name = name
        self.queue_url = queue_url
        self._got: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        sqs = boto3.client("sqs")
        while not self._stop.is_set():
            if not self._receive(sqs):
                self._stop.wait(0.02)

    def _receive(self, sqs: Any) -> int:
        with self._lock:  # receive and record as one step, so arrival order is kept
            msgs = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            self._got.extend(json.loads(m["Body"]) for m in msgs)
            if msgs:
                sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
                )
            return len(msgs)

    def drain(self) -> list[dict[str, Any]]:
        """Everything received so far (and what is still in the queue), then forgotten."""
        sqs = boto3.client("sqs")
        while self._receive(sqs):
            pass
        with self._lock:
            got, self._got = self._got, []
        return got

    def take(self) -> list[dict[str, Any]]:
        """What the background thread received so far, then forgotten (no SQS call here)."""
        with self._lock:
            got, self._got = self._got, []
        return got

    def count(self) -> int:
        with self._lock:
            return len(self._got)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def tap(monkeypatch: pytest.MonkeyPatch) -> Iterator[BusTap]:
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name="qqbus-test")
        url = sqs.create_queue(QueueName="tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": ["qq.official", "onebot.v11", "test.relay"]}
        events.put_rule(Name="tap", EventBusName="qqbus-test", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="tap", EventBusName="qqbus-test", Targets=[{"Id": "q", "Arn": arn}])
        monkeypatch.setenv("EVENT_BUS_NAME", "qqbus-test")
        tap = BusTap("qqbus-test", url)
        yield tap
        tap.stop()


class Blackhole:
    """A TCP server on 127.0.0.1 that accepts connections and never answers: a hung endpoint."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self._sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


class ServerBus:
    """A bus on a moto server (for relay processes) with a rule into a queue."""

    def __init__(self, sources: list[str]) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.name = f"relay-bus-{uuid.uuid4().hex[:8]}"  # moto's state is per process, not per server
        events = self.client("events")
        self.sqs = self.client("sqs")
        events.create_event_bus(Name=self.name)
        self.queue_url = self.sqs.create_queue(QueueName=self.name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name="all", EventBusName=self.name, EventPattern=json.dumps({"source": sources}))
        events.put_targets(Rule="all", EventBusName=self.name, Targets=[{"Id": "q", "Arn": arn}])
        self.got: list[dict[str, Any]] = []

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1")

    def drain(self) -> list[dict[str, Any]]:
        """Every event received so far (kept in ``got`` too)."""
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not msgs:
                return self.got
            self.got.extend(json.loads(m["Body"]) for m in msgs)
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
            )

    def stop(self) -> None:
        urllib.request.urlopen(
            urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST"), timeout=10
        )
        self.server.stop()


@pytest.fixture
def server_bus() -> Iterator[ServerBus]:
    bus = ServerBus(["qq.official", "onebot.v11"])
    yield bus
    bus.stop()


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a relay process: no proxies, no real AWS endpoint or profile."""
    drop = ("AWS_ENDPOINT", "AWS_PROFILE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "EVENT_BUS_NAME")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}
    return (
        env
        | {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
        | extra
    )
