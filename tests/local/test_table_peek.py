"""The console's peek at a row answers exactly what a consistent GetItem does, with or without
the peek at moto's backend."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from qqbus_dev.table_peek import read_item

TABLE = {
    "TableName": "t",
    "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


@pytest.fixture(params=["peek", "get_item"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "get_item":  # the speed-ups off: the same answers through GetItem
        monkeypatch.setenv("QQBUS_MOTO_SPEEDUPS", "off")
    yield request.param


def test_read_item_is_what_a_consistent_get_item_returns(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = {"k": {"S": "g"}}
    item = {
        **key,
        "n": {"N": "1733000000123"},
        "member": {"BOOL": True},
        "none": {"NULL": True},
        "tags": {"SS": ["a", "b"]},
        "nested": {"M": {"l": {"L": [{"S": "x"}, {"N": "2"}]}}},
    }
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**TABLE)
        dynamodb.put_item(TableName="t", Item=item)
        got = dynamodb.get_item(TableName="t", Key=key, ConsistentRead=True)["Item"]
        assert read_item(dynamodb, "us-east-1", "t", key) == got == item
        assert read_item(dynamodb, "us-east-1", "t", {"k": {"S": "absent"}}) is None
        assert read_item(dynamodb, "us-east-1", "absent", key) is None
        other = boto3.client("dynamodb", region_name="eu-west-1")
        assert read_item(other, "eu-west-1", "t", key) is None  # the table is another region's
        # Calls made under another account (moto's MOTO_ACCOUNT_ID) are read there too.
        monkeypatch.setenv("MOTO_ACCOUNT_ID", "111122223333")
        assert read_item(dynamodb, "us-east-1", "t", key) is None
        dynamodb.create_table(**TABLE)
        dynamodb.put_item(TableName="t", Item={**key, "n": {"N": "2"}})
        assert read_item(dynamodb, "us-east-1", "t", key) == {**key, "n": {"N": "2"}}


def test_a_row_key_the_table_refuses_gives_no_diff_rather_than_a_failure(mode: str) -> None:
    """Group ids come from event payloads: an empty or partial key must not fail an invocation."""
    from qqbus_dev.console.app import Watch

    keys = [
        {"AttributeName": "bot_id", "KeyType": "HASH"},
        {"AttributeName": "group_id", "KeyType": "RANGE"},
    ]
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="groups",
            KeySchema=keys,
            AttributeDefinitions=[{"AttributeName": k["AttributeName"], "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        if mode == "peek":
            assert (
                read_item(dynamodb, "us-east-1", "groups", {"bot_id": {"S": "1"}, "group_id": {"S": ""}})
                is None
            )
        with pytest.raises(Exception, match="ValidationException"):  # half a key: what GetItem says
            read_item(dynamodb, "us-east-1", "groups", {"bot_id": {"S": "1"}})
        console: Any = SimpleNamespace(region="us-east-1", dynamodb=dynamodb)
        for key in ({"bot_id": "1", "group_id": ""}, {"bot_id": "1"}):
            watch = Watch(console, "groups", key)
            assert watch.before is None and watch.changes() == {}
