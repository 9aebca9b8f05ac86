"""Typed ``data`` of the common getters: wire names, missing and extra fields, wrong types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from qqbus.actions import Outbox, Result
from qqbus.publish import entry_size
from qqbus.queries import (
    RESULT_MODELS,
    GroupInfo,
    GroupMemberInfo,
    LoginInfo,
    MessageInfo,
    StrangerInfo,
    typed_data,
)


def test_each_getter_has_its_model() -> None:
    assert set(RESULT_MODELS) == {
        "get_group_member_info",
        "get_group_member_list",
        "get_stranger_info",
        "get_group_info",
        "get_msg",
        "get_login_info",
    }


@pytest.mark.parametrize(
    "action, data, check",
    [
        (
            "get_group_member_info",
            {"group_id": "987", "user_id": 1, "nickname": 12, "role": "admin", "age": "old", "new": 1},
            lambda m: (
                isinstance(m, GroupMemberInfo)
                and (m.group_id, m.nickname, m.role, m.age, m.model_extra)
                == (987, "12", "admin", None, {"new": 1})
            ),
        ),
        ("get_group_member_info", {}, lambda m: m.user_id is None and m.display_name == ""),
        (
            "get_group_member_list",
            [{"user_id": 1, "card": "c"}, "junk", {"user_id": 2, "nickname": "n"}],
            lambda ms: [m.display_name for m in ms] == ["c", "n"],
        ),
        ("get_group_member_list", {"not": "a list"}, lambda ms: ms == []),
        (
            "get_stranger_info",
            {"user_id": 9, "nickname": "x", "sex": None},
            lambda m: isinstance(m, StrangerInfo),
        ),
        (
            "get_group_info",
            {"group_id": 5, "group_name": "g", "member_count": 3.0, "max_member_count": True},
            lambda m: isinstance(m, GroupInfo) and (m.member_count, m.max_member_count) == (3, None),
        ),
        (
            "get_msg",
            {"message_id": -2147483649, "message": "hi[CQ:face,id=1]", "sender": {"user_id": 1}},
            lambda m: (
                isinstance(m, MessageInfo)
                and m.message_id == -2147483649
                and [s.type for s in m.segments] == ["text", "face"]
            ),
        ),
        ("get_msg", {"message": {"weird": True}}, lambda m: m.segments == []),
        (
            "get_login_info",
            {"user_id": "10001", "nickname": "bot"},
            lambda m: isinstance(m, LoginInfo) and m.user_id == 10001,
        ),
        ("set_group_ban", {"anything": 1}, lambda d: d == {"anything": 1}),
    ],
)
def test_typed_data_is_lenient(action: str, data: Any, check: Any) -> None:
    assert check(typed_data(action, data))


def test_data_that_is_not_an_object_is_refused_not_raised_in_a_step() -> None:
    with pytest.raises(ValueError):
        typed_data("get_group_member_info", ["a", "list"])


def test_a_result_too_large_for_the_bus_keeps_what_fits_and_says_so() -> None:
    action = Outbox(bot_id="1", event_id="e", detail_type="message.group", function="f").call(
        "get_group_member_list", group_id=5
    )
    members = [{"user_id": i, "nickname": "n" * 200, "card": "c" * 100} for i in range(2000)]
    result = Result(
        action_id=action.action_id,
        bot_id="1",
        outcome="sent",
        protocol="onebot",
        action=action.action,
        data=members,
    )
    entry = result.entry("bus")
    detail = json.loads(entry["Detail"])
    assert entry_size(entry) <= 256 * 1024
    assert detail["data_truncated"] is True
    assert 0 < len(detail["data"]) < len(members)
    assert detail["data"][0] == members[0]
    small = Result(action_id="a", bot_id="1", outcome="sent", protocol="onebot", action="x", data={"k": 1})
    assert "data_truncated" not in json.loads(small.entry("bus")["Detail"])
