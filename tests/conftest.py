from __future__ import annotations

import os

# Before anything imports boto3 or Powertools: a fake account, a region, no real endpoint.
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
    os.environ.pop(_var, None)
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    POWERTOOLS_SERVICE_NAME="qqbus",
    POWERTOOLS_METRICS_NAMESPACE="qqbus",
    POWERTOOLS_DEV="false",
    QQBUS_TESTING="1",
)

import json  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402
from qqbus import aws  # noqa: E402
from qqbus.state import DynamoGroupStore  # noqa: E402
from qqbus_dev.lambda_context import LocalContext  # noqa: E402
from qqbus_dev.moto_speedups import share_botocore_loader  # noqa: E402
from qqbus_dev.provision import create_tables, local_refs  # noqa: E402
from qqbus_dev.template import Template  # noqa: E402

#: The test kit's ``bot`` fixture (qqbus_dev.testing); qqbus-dev's pytest11 entry point loads it
#: already where the dev tools are installed, and then this line changes nothing.
pytest_plugins = ["qqbus_dev.testing.plugin"]

# The suite's own AWS is moto as released: no moto speed-up (the dev stacks the tests start apply
# theirs, qqbus_dev.moto_speedups). botocore's models are read once: each test's mock_aws makes
# a new boto3 session, which would read them again.
share_botocore_loader()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """No client, store or secret survives from one test to the next."""
    aws.reset()
    yield
    aws.reset()


@pytest.fixture(scope="session")
def template() -> Template:
    return Template.read()


@pytest.fixture
def context() -> LocalContext:
    return LocalContext(function_name="qqbus-test")


@pytest.fixture
def refs(template: Template) -> dict[str, Any]:
    return local_refs(template, region="us-east-1", stage="test")


@pytest.fixture
def aws_tables(
    template: Template, refs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """moto with the template's tables, and the env vars that name them."""
    with mock_aws():
        tables = create_tables(template, boto3.client("dynamodb"), refs)
        monkeypatch.setenv("GROUPS_TABLE_NAME", tables["GroupsTable"])
        monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", tables["IdempotencyTable"])
        monkeypatch.setenv("ACTIONS_TABLE_NAME", tables["ActionsTable"])
        monkeypatch.setenv("USERS_TABLE_NAME", tables["UsersTable"])
        yield tables


#: Every source qqbus puts on the bus.
SOURCES = ["qq.official", "onebot.v11", "qqbus.action", "qqbus.action.result"]


@dataclass
class BusTap:
    """The template's bus on moto, with a rule copying every qqbus event to a queue, in order."""

    name: str
    queue_url: str

    def published(self, source: str | None = None) -> list[dict[str, Any]]:
        """What reached the bus since the last call (of ``source``, when given)."""
        sqs = boto3.client("sqs")
        got = []
        while msgs := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for m in msgs:
                got.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return [e for e in got if source is None or e["source"] == source]


@pytest.fixture
def event_bus(aws_tables: dict[str, str], refs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> BusTap:
    """The bus (inside ``aws_tables``' moto), ``EVENT_BUS_NAME`` naming it, and a tap on it."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    name = refs["EventBus"]
    events.create_event_bus(Name=name)
    url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName=name, EventPattern=json.dumps({"source": SOURCES}))
    events.put_targets(Rule="tap", EventBusName=name, Targets=[{"Id": "q", "Arn": arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", name)
    return BusTap(name, url)


@pytest.fixture
def group_store(aws_tables: dict[str, str]) -> DynamoGroupStore:
    return DynamoGroupStore(aws_tables["GroupsTable"])
