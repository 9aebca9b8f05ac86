"""Per-group command switches in the groups table: one event-time clock per command."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from qqbus.state import DynamoGroupStore, GroupStore, InMemoryGroupStore
from qqbus_dev.groups_view import render


@pytest.fixture(params=["dynamodb", "memory"])
def switches(request: pytest.FixtureRequest) -> Iterator[GroupStore]:
    if request.param == "memory":
        yield InMemoryGroupStore()
    else:
        yield request.getfixturevalue("group_store")


def _switch(store: GroupStore, command: str, enabled: bool, at: int, event: str = "") -> bool:
    return store.write("b", "g", "onebot", store.command_enabled(command, enabled, at=at, tiebreak=event))[0]


def _disabled(store: GroupStore) -> tuple[str, ...] | None:
    state = store.get("b", "g")
    assert state is not None
    return state.disabled_commands


def test_commands_are_switched_independently(switches: GroupStore) -> None:
    assert _switch(switches, "roll", False, 100)
    assert _switch(switches, "echo", False, 50)  # older, but another command's clock
    assert _disabled(switches) == ("echo", "roll")
    state = switches.get("b", "g")
    assert state is not None and not state.is_command_enabled("roll") and state.is_command_enabled("ping")
    assert _switch(switches, "roll", True, 101)
    assert _disabled(switches) == ("echo",)


def test_an_older_switch_or_a_repeat_changes_nothing(switches: GroupStore) -> None:
    assert _switch(switches, "roll", True, 100, "E2")
    assert not _switch(switches, "roll", False, 99, "E1")
    assert not _switch(switches, "roll", True, 100, "E2")
    assert _disabled(switches) is None


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_the_final_state_does_not_depend_on_delivery_order(switches: Any, order: tuple[int, ...]) -> None:
    # the same second: off wins; then the later second decides
    events = [("roll", True, 100, "E1"), ("roll", False, 100, "E2"), ("echo", False, 90, "E3")]
    group = f"g{''.join(map(str, order))}"
    for i in order:
        command, enabled, at, event = events[i]
        switches.write("b", group, "qq", switches.command_enabled(command, enabled, at=at, tiebreak=event))
    state = switches.get("b", group)
    assert state is not None and state.disabled_commands == ("echo", "roll")


@pytest.mark.parametrize("name", ["", "a(b", "x)"])
def test_a_name_that_would_break_the_attribute_is_refused(switches: GroupStore, name: str) -> None:
    with pytest.raises(ValueError, match="not a command name"):
        _switch(switches, name, False, 1)


def test_the_dynamodb_item_holds_a_flag_and_a_clock_per_command(
    group_store: DynamoGroupStore, aws_tables: dict[str, str]
) -> None:
    import boto3

    _switch(group_store, "掷骰", False, 100, "E1")
    _switch(group_store, "echo", False, 100, "E2")
    _switch(group_store, "echo", True, 101, "E3")
    item = boto3.client("dynamodb").get_item(
        TableName=aws_tables["GroupsTable"], Key={"bot_id": {"S": "b"}, "group_id": {"S": "g"}}
    )["Item"]
    assert item["disabled(掷骰)"] == {"BOOL": True}
    assert item["disabled(掷骰)_at"] == {"N": "100"} and item["disabled(掷骰)_tie"] == {"S": "1:E1"}
    assert "disabled(echo)" not in item and item["disabled(echo)_at"] == {"N": "101"}
    assert item["protocol"] == {"S": "onebot"} and "member" not in item


def test_qqbus_groups_shows_switched_off_commands_as_json(switches: GroupStore) -> None:
    _switch(switches, "roll", False, 100)
    (row,) = json.loads(render(switches.scan(), as_json=True))
    assert row["disabled_commands"] == ["roll"]
