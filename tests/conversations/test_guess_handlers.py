"""/guess through the real message handlers on moto (tables from template.yaml, the bus tapped):
binary search finishes in at most 7 guesses, other members are ignored, duplicates are absorbed."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from tests.conftest import BusTap
from tests.handlers.conftest import Invoke, invoke  # noqa: F401  (the fixture)
from tests.support import event_file

T0 = 1_750_000_000
_n = itertools.count(1)
HANDLERS = [
    "qq_group_at_message_create",
    "qq_c2c_message_create",
    "onebot_group_message",
    "onebot_private_message",
]


def _event(name: str, text: str, at: int, user: str | int | None = None) -> dict[str, Any]:
    """events/<name>.json saying ``text`` at ``at``, as a new event (its own ids), from ``user``."""
    event = copy.deepcopy(event_file(name))
    n = next(_n)
    detail, payload = event["detail"], event["detail"]["payload"]
    detail["event_id"], detail["received_at"] = f"{name}-{n}", at * 1000 + n % 1000
    if "d" in payload:
        d = payload["d"]
        payload["id"], d["id"], d["content"], d["timestamp"] = detail["event_id"], f"M{n}", f" {text}", at
        if user is not None:
            d["author"] = {"member_openid" if "group" in name else "user_openid": str(user)}
    else:
        payload["message_id"], payload["message"], payload["time"] = n, text, at
        if user is not None:
            payload["user_id"] = int(user)
            payload["sender"] = {"user_id": int(user), "role": "member"}
    return event


def _replies(bus: BusTap) -> list[str]:
    actions = [e["detail"] for e in bus.published("qqbus.action")]
    return ["".join(s["data"].get("text", "") for s in a["message"]) for a in actions]


@pytest.fixture
def play(invoke: Invoke, event_bus: BusTap, bot_table: str) -> Any:  # noqa: F811
    def say(name: str, text: str, at: int, user: str | int | None = None) -> list[str]:
        invoke(name, _event(name, text, at, user))
        return _replies(event_bus)

    return say


@pytest.mark.parametrize("name", HANDLERS)
def test_binary_search_wins_in_at_most_seven_guesses(play: Any, name: str) -> None:
    assert play(name, "/guess", T0) == ["I picked a number from 1 to 100. Guess it!"]
    low, high, guesses = 1, 100, 0
    while guesses < 10:
        guess = (low + high) // 2
        guesses += 1
        (answer,) = play(name, str(guess), T0 + guesses)
        if answer == "correct":
            break
        assert answer in ("higher", "lower"), answer
        low, high = (guess + 1, high) if answer == "higher" else (low, guess - 1)
    assert answer == "correct" and guesses <= 7


def test_other_members_numbers_are_ignored_and_their_commands_answered(play: Any) -> None:
    name, player, other = "onebot_group_message", 30001, 30002
    play(name, "/guess", T0, player)
    low, high, guesses, t = 1, 100, 0, T0
    while guesses < 10:
        guess = (low + high) // 2
        t += 1
        assert play(name, str(guess), t, other) == []  # another member's numbers: nothing
        assert play(name, "/ping", t, other) == ["pong"]
        guesses += 1
        (answer,) = play(name, str(guess), t, player)
        if answer == "correct":
            break
        low, high = (guess + 1, high) if answer == "higher" else (low, guess - 1)
    assert answer == "correct" and guesses <= 7


def test_a_duplicate_delivery_of_a_guess_asks_for_the_same_answer_once_more(
    invoke: Invoke,  # noqa: F811
    event_bus: BusTap,
    bot_table: str,
) -> None:
    """Whether the handler's idempotency absorbs the copy or the conversation replays its stored
    answer, the bus never carries a second, different answer (one action id: sent once), and the
    game advanced by one turn."""
    import boto3

    name = "onebot_private_message"
    invoke(name, _event(name, "/guess", T0))
    event_bus.published()
    guess = _event(name, "50", T0 + 1)
    invoke(name, guess)
    invoke(name, guess)  # EventBridge delivered it twice
    actions = [e["detail"] for e in event_bus.published("qqbus.action")]
    assert {a["action_id"] for a in actions} == {actions[0]["action_id"]}
    assert actions[0]["message"][0]["data"]["text"] in ("higher", "lower", "correct")
    (row,) = boto3.client("dynamodb").scan(TableName=bot_table)["Items"]
    assert (row["turns"]["N"], row["version"]["N"]) == ("1", "2")
