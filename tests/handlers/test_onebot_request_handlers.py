"""request.friend / request.group: the policy of the template decides, as an action with the flag.

The handlers run through the test kit with the template's parameters (FriendRequestPolicy,
GroupRequestPolicy, RequestCommentPattern) as ``sam deploy --parameter-overrides`` would set them."""

from __future__ import annotations

from typing import Any

import pytest
from qqbus.request_policy import PolicyError, decide
from qqbus_dev.testing import Bot


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
    bot: Bot, sample: Any, policy: str, pattern: str, params: dict[str, Any] | None
) -> None:
    bot.set_parameters(FriendRequestPolicy=policy, RequestCommentPattern=pattern)
    result = bot.receive(sample("onebot_friend_request"))
    assert result.functions == ["OnebotFriendRequestFunction"]
    if params is None:
        assert result.actions == []
        result.should_not_call()
    else:
        (action,) = result.actions
        assert action.detail_type == "onebot.set_friend_add_request"
        assert action.params == params
        assert result.should_call("set_friend_add_request", **params).outcome.outcome == "sent"


@pytest.mark.parametrize("sub_type", ["invite", "add"])
@pytest.mark.parametrize("policy", ["approve", "reject"])
def test_group_requests_and_invitations(bot: Bot, sample: Any, sub_type: str, policy: str) -> None:
    bot.set_parameters(GroupRequestPolicy=policy)
    event = sample("onebot_group_request")
    event["detail"]["payload"]["sub_type"] = sub_type
    event["detail"]["event_id"] += sub_type
    result = bot.receive(event)
    assert result.functions == ["OnebotGroupRequestFunction"]
    (action,) = result.actions
    assert action.detail_type == "onebot.set_group_add_request"
    expected = {"flag": "1718000060_invite_987654321", "sub_type": sub_type, "approve": policy == "approve"}
    if policy == "reject":
        expected["reason"] = "declined by policy"
    assert action.params == expected
    # no group to gate on: an invitation comes before membership
    assert action.target.model_dump(exclude_none=True) == {}
    result.should_be_sent()


def test_an_unusable_policy_fails_the_invocation_loudly(bot: Bot, sample: Any) -> None:
    bot.set_parameters(FriendRequestPolicy="match")  # and RequestCommentPattern left empty
    with pytest.raises(PolicyError):
        bot.receive(sample("onebot_friend_request"))
