from __future__ import annotations

import json
import threading
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
