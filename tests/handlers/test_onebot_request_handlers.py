"""request.friend / request.group: the policy of the template decides, as an action with the flag."""

from __future__ import annotations

from typing import Any

import pytest
from qqbus.request_policy import PolicyError, decide

from tests.conftest import BusTap
from tests.handlers.conftest import Invoke


@pytest.mark.parametrize(
    "policy, comment, pattern, expected",
    [
        ("approve", "", "", True),
        ("reject", "let me in", "", False),
        ("pending", "x", "", None),
        ("match", "我是群友A", "群友", True),
        ("match", "spam", "群友|friend", False),
        ("match", "", "^$", True),
    ],
)
def test_policies(policy: str, comment: str, pattern: str, expected: bool | None) -> None:
    assert decide(policy, comment, pattern) is expected


@pytest.mark.parametrize("policy, pattern", [("maybe", ""), ("match", ""), ("match", "(")])
def test_a_policy_that_cannot_decide_is_a_clear_error(policy: str, pattern: str) -> None:
    with pytest.raises(PolicyError):
        decide(policy, "c", pattern)


@pytest.mark.parametrize(
    "policy, pattern, params",
    [
        ("approve", "", {"flag": "1718000050_345678901", "approve": True}),
        ("match", "群友", {"flag": "1718000050_345678901", "approve": True}),
        ("match", "^admin", {"flag": "1718000050_345678901", "approve": False}),
        ("reject", "", {"flag": "1718000050_345678901", "approve": False}),
        ("pending", "", None),
    ],
)
def test_friend_requests(
    invoke: Invoke,
    sample: Any,
    event_bus: BusTap,
    monkeypatch: pytest.MonkeyPatch,
    policy: str,
    pattern: str,
    params: dict[str, Any] | None,
) -> None:
    monkeypatch.setenv("QQBUS_FRIEND_REQUEST_POLICY", policy)
    monkeypatch.setenv("QQBUS_REQUEST_COMMENT_PATTERN", pattern)
    invoke("onebot_friend_request", sample("onebot_friend_request"))
    asked = event_bus.published("qqbus.action")
    if params is None:
        assert asked == []
    else:
        (action,) = asked
        assert action["detail-type"] == "onebot.set_friend_add_request"
        assert action["detail"]["params"] == params


@pytest.mark.parametrize("sub_type", ["invite", "add"])
@pytest.mark.parametrize("policy", ["approve", "reject"])
def test_group_requests_and_invitations(
    invoke: Invoke,
    sample: Any,
    event_bus: BusTap,
    monkeypatch: pytest.MonkeyPatch,
    sub_type: str,
    policy: str,
) -> None:
    monkeypatch.setenv("QQBUS_GROUP_REQUEST_POLICY", policy)
    event = sample("onebot_group_request")
    event["detail"]["payload"]["sub_type"] = sub_type
    event["detail"]["event_id"] += sub_type
    invoke("onebot_group_request", event)
    (action,) = event_bus.published("qqbus.action")
    assert action["detail-type"] == "onebot.set_group_add_request"
    expected = {"flag": "1718000060_invite_987654321", "sub_type": sub_type, "approve": policy == "approve"}
    if policy == "reject":
        expected["reason"] = "declined by policy"
    assert action["detail"]["params"] == expected
    assert action["detail"]["target"] == {}  # no group to gate on: an invitation comes before membership


def test_an_unusable_policy_fails_the_invocation_loudly(
    invoke: Invoke, sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QQBUS_FRIEND_REQUEST_POLICY", "match")
    monkeypatch.delenv("QQBUS_REQUEST_COMMENT_PATTERN", raising=False)
    with pytest.raises(PolicyError):
        invoke("onebot_friend_request", sample("onebot_friend_request"))
