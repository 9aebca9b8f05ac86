from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from qqbus.lambda_context import LocalContext

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
        monkeypatch.delenv("ONEBOT_SECRET", raising=False)
        yield Bus(name, url)


Call = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def qq_webhook(bus: Bus) -> Call:
    module = load_handler("qq_webhook")
    return lambda event: module.lambda_handler(event, LocalContext(function_name="qq_webhook"))


@pytest.fixture
def onebot_http(bus: Bus) -> Call:
    module = load_handler("onebot_http")
    return lambda event: module.lambda_handler(event, LocalContext(function_name="onebot_http"))
