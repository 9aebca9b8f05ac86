from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from qqbus.ingress.function_url import function_url_event
from qqbus.observability import logger
from qqbus.signatures import onebot_signature, qq_sign_request
from qqbus_dev.lambda_context import LocalContext

from tests.support import load_handler

QQ_SECRET = "DG5g3B4j9X2KOErG"
QQ_APPID = "102000001"
ONEBOT_SECRET = "onebot-test-secret"


@dataclass
class Bus:
    """The template's bus on moto, with a rule that copies every qqbus event to a queue."""

    name: str
    queue_url: str

    def published(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        got = []
        while msgs := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for m in msgs:
                got.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return got


@pytest.fixture
def bus(refs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Bus]:
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        name = refs["EventBus"]
        events.create_event_bus(Name=name)
        url = sqs.create_queue(QueueName="everything")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="everything",
            EventBusName=name,
            EventPattern=json.dumps({"source": ["qq.official", "onebot.v11"]}),
        )
        events.put_targets(Rule="everything", EventBusName=name, Targets=[{"Id": "q", "Arn": arn}])
        monkeypatch.setenv("EVENT_BUS_NAME", name)
        monkeypatch.setenv("QQ_BOT_SECRET", QQ_SECRET)
        monkeypatch.setenv("QQ_BOT_APPID", QQ_APPID)
        monkeypatch.delenv("QQBUS_ALLOW_REPLAYS", raising=False)
        monkeypatch.delenv("ONEBOT_SECRET", raising=False)
        yield Bus(name, url)


Call = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class LogTap:
    """The function's log lines, written as Lambda writes them: to a strict UTF-8 stream."""

    stream: io.TextIOWrapper

    def lines(self) -> list[str]:
        """The lines written since the last call.

        Split on "\\n" only, as a log reader does: ``str.splitlines`` also breaks at U+0085,
        U+2028 and other characters that a JSON line may carry unescaped.
        """
        buffer = self.stream.buffer
        assert isinstance(buffer, io.BytesIO)
        text = buffer.getvalue().decode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()  # after the last newline
        return lines


@pytest.fixture
def strict_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[LogTap]:
    """A log line that cannot be written raises, instead of being dropped with a notice.

    Under pytest the handler writes to a forgiving capture stream; in Lambda, stdout is strict
    UTF-8, where a lone surrogate in a log line loses that line.
    """

    def handle_error(self: logging.Handler, record: logging.LogRecord) -> None:
        raise  # the error that the handler is handling

    monkeypatch.setattr(logging.Handler, "handleError", handle_error)
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    previous = handler.setStream(stream)
    try:
        yield LogTap(stream)
    finally:
        handler.setStream(previous)


@pytest.fixture
def qq_webhook(bus: Bus) -> Call:
    module = load_handler("qq_webhook")
    return lambda event: module.lambda_handler(event, LocalContext(function_name="qq_webhook"))


@pytest.fixture
def onebot_http(bus: Bus) -> Call:
    module = load_handler("onebot_http")
    return lambda event: module.lambda_handler(event, LocalContext(function_name="onebot_http"))


def now() -> str:
    return str(int(time.time()))


def signed(
    body: bytes, *, secret: str = QQ_SECRET, appid: str = QQ_APPID, ts: str | None = None, **kw: Any
) -> dict[str, Any]:
    """The request the platform sends with ``body``, signed now (or at ``ts``)."""
    ts = ts or now()
    headers = {
        "X-Signature-Ed25519": qq_sign_request(secret, ts, body),
        "X-Signature-Timestamp": ts,
        "X-Bot-Appid": appid,
        "User-Agent": "QQBot-Callback",
        "Content-Type": "application/json",
    }
    return function_url_event(body, headers, **kw)


def post(
    payload: Any,
    *,
    secret: str | None = None,
    self_id: str | None = "123456789",
    raw: bytes | None = None,
    **headers: str,
) -> dict[str, Any]:
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
    h = {"Content-Type": "application/json"}
    if self_id is not None:
        h["X-Self-ID"] = self_id
    if secret is not None:
        h["X-Signature"] = onebot_signature(secret, body)
    h.update(headers)
    return function_url_event(body, h)
