"""GroupStore semantics, the same for the DynamoDB and the in-memory adapter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from qqbus.state import DynamoGroupStore, GroupStore, InMemoryGroupStore


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[GroupStore]:
    if request.param == "memory":
        yield InMemoryGroupStore()
    else:
        yield request.getfixturevalue("group_store")


def test_first_write_creates_the_row(store: GroupStore) -> None:
    assert store.mark_member("b", "g", protocol="qq", member=True, at=100, by="m")
    s = store.get("b", "g")
    assert s is not None and (s.bot_id, s.group_id, s.protocol, s.member, s.member_at, s.member_by) == (
        "b",
        "g",
        "qq",
        True,
        100,
        "m",
    )


def test_older_or_equal_events_change_nothing(store: GroupStore) -> None:
    store.mark_member("b", "g", protocol="qq", member=True, at=100)
    assert not store.mark_member("b", "g", protocol="qq", member=False, at=99)
    assert not store.mark_member("b", "g", protocol="qq", member=False, at=100)
    s = store.get("b", "g")
    assert s is not None and (s.member, s.member_at) == (True, 100)


def test_attribute_groups_have_their_own_clocks(store: GroupStore) -> None:
    store.set_proactive("b", "g", accepts=False, at=500)
    assert store.mark_member("b", "g", protocol="qq", member=True, at=100)  # older, but another attribute
    s = store.get("b", "g")
    assert s is not None and (s.member, s.proactive) == (True, False)


def test_none_removes_an_attribute(store: GroupStore) -> None:
    store.set_reply_event("b", "g", event_id="E1", at=1)
    store.set_reply_event("b", "g", event_id=None, at=2)
    s = store.get("b", "g")
    assert s is not None and s.reply_event_id is None and s.reply_event_at == 2


def test_scan_by_bot(store: GroupStore) -> None:
    store.mark_member("b1", "g2", protocol="onebot", member=True, at=1)
    store.mark_member("b1", "g1", protocol="onebot", member=True, at=1)
    store.mark_member("b2", "g1", protocol="onebot", member=False, at=1)
    assert [(s.bot_id, s.group_id) for s in store.scan("b1")] == [("b1", "g1"), ("b1", "g2")]
    assert len(store.scan()) == 3
    assert store.get("nobody", "g") is None


def test_dynamo_item_uses_the_contract_types(
    group_store: DynamoGroupStore, aws_tables: dict[str, str]
) -> None:
    import boto3

    group_store.mark_member("b", "g", protocol="qq", member=True, at=100)
    group_store.set_proactive("b", "g", accepts=True, at=101)
    item = boto3.client("dynamodb").get_item(
        TableName=aws_tables["GroupsTable"], Key={"bot_id": {"S": "b"}, "group_id": {"S": "g"}}
    )["Item"]
    assert item["member"] == {"BOOL": True} and item["member_at"] == {"N": "100"}
    assert item["proactive"] == {"BOOL": True} and item["proactive_at"] == {"N": "101"}
    assert item["protocol"] == {"S": "qq"}
