"""The group message handlers switch commands in the groups table (moto), as deployed."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest

from tests.conftest import BusTap
from tests.handlers.conftest import Invoke, invoke  # noqa: F401  (the fixture)
from tests.support import event_file

_n = itertools.count(1)


def _event(name: str, text: str, **sender: Any) -> dict[str, Any]:
    """events/<name>.json saying ``text``, as a new event (its own id and message id)."""
    event = copy.deepcopy(event_file(name))
    n = next(_n)
    detail, payload = event["detail"], event["detail"]["payload"]
    detail["event_id"] = f"{name}-{n}"
    if "d" in payload:
        payload["id"], payload["d"]["id"], payload["d"]["content"] = detail["event_id"], f"M{n}", text
    else:
        payload["message_id"], payload["message"] = n, text
        payload["sender"].update(sender)
    return event


def _replies(bus: BusTap) -> list[str]:
    actions = [e["detail"] for e in bus.published("qqbus.action")]
    return ["".join(s["data"].get("text", "") for s in a["message"]) for a in actions]


def test_onebot_group_admin_switches_a_command_for_the_group(
    invoke: Invoke,  # noqa: F811
    event_bus: BusTap,
    aws_tables: dict[str, str],
) -> None:
    import boto3

    name = "onebot_group_message"
    invoke(name, _event(name, "/disable roll", role="admin"))
    invoke(name, _event(name, "/roll 2d6", role="member"))
    invoke(name, _event(name, "/disable echo", role="member"))
    assert _replies(event_bus) == [
        "/roll is disabled in this group",
        "/roll is disabled in this group",
        "not allowed: /disable is for group admins",
    ]
    items = boto3.client("dynamodb").scan(TableName=aws_tables["GroupsTable"])["Items"]
    assert [(i["group_id"]["S"], i["disabled(roll)"]) for i in items] == [("987654321", {"BOOL": True})]
    assert "disabled(echo)" not in json.dumps(items)


def test_qq_group_listed_admin_switches_and_c2c_needs_no_table(
    invoke: Invoke,  # noqa: F811
    event_bus: BusTap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member = event_file("qq_group_at_message_create")["detail"]["payload"]["d"]["author"]["member_openid"]
    invoke("qq_group_at_message_create", _event("qq_group_at_message_create", "/disable echo"))
    monkeypatch.setenv("QQBUS_COMMAND_ADMINS", member)
    invoke("qq_group_at_message_create", _event("qq_group_at_message_create", "/disable echo"))
    invoke("qq_group_at_message_create", _event("qq_group_at_message_create", "/echo hi"))
    monkeypatch.delenv("GROUPS_TABLE_NAME")  # as in template.yaml: the C2C function has no table
    invoke("qq_c2c_message_create", _event("qq_c2c_message_create", "/echo hi"))
    assert _replies(event_bus) == [
        "not allowed: /disable is for group admins",
        "/echo is disabled in this group",
        "/echo is disabled in this group",
        "hi",
    ]
