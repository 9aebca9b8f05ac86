"""/guess end to end on `qqbus dev`: the stack makes the template's bot data table, and a game
over several signed messages (OneBot group, QQ C2C) goes ingress -> bus -> handler ->
conversation row -> action -> sender -> the fake platform API. Messages come seconds apart or
within one second: the order they were received in decides."""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from qqbus_dev.send import event_id_of, prepare

from tests.local.stacks import Stack, running_stack
from tests.support import event_file

_n = itertools.count(1)
PLAYER, OTHER = 40001, 40002
QQ_PLAYER = "C0FFEE00C0FFEE00C0FFEE00C0FFEE00"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("guess")) as running:
        yield running


def say(stack: Stack, kind: str, text: str, user: int | str) -> list[str]:
    """Send one new message; the texts the fake platform API was asked to send for it."""
    name = {
        "onebot_group": "onebot_group_message",
        "onebot_private": "onebot_private_message",
        "qq_c2c": "qq_c2c_message_create",
    }[kind]
    payload = copy.deepcopy(event_file(name)["detail"]["payload"])
    if kind == "qq_c2c":
        payload["id"] = f"{payload['t']}:{uuid.uuid4()}"
        payload["d"].update(id=f"ROBOT1.0_{uuid.uuid4().hex}", content=text, author={"user_openid": user})
        api = "qq"
    else:
        payload.update(message=text, message_id=next(_n) * 1000 + 11, user_id=user)
        payload["sender"].update(user_id=user, role="member")  # (private: role is not read)
        api = "onebot"
    prepared = prepare(json.dumps(payload, ensure_ascii=False).encode(), fresh_time=True, state=stack.state)
    before = len(stack.fake(api))
    assert stack.send(prepared.body)[0] in (200, 204)
    stack.trace(event_id_of(prepared.path, prepared.body) or "")
    sent = [r for r in stack.fake(api)[before:] if not r["path"].startswith("/app/")]
    if api == "qq":
        return [str(r["body"]["content"]) for r in sent]
    return ["".join(s["data"].get("text", "") for s in r["body"]["message"]) for r in sent]


def test_the_stack_makes_the_bot_data_table_with_its_ttl(stack: Stack) -> None:
    tables = stack.client("dynamodb").list_tables()["TableNames"]
    (name,) = [t for t in tables if t.endswith("-bot-data")]
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


@pytest.mark.parametrize(("kind", "player"), [("onebot_group", PLAYER), ("qq_c2c", QQ_PLAYER)])
def test_guess_by_binary_search_through_the_stack(stack: Stack, kind: str, player: Any) -> None:
    assert say(stack, kind, "/guess", player) == ["I picked a number from 1 to 100. Guess it!"]
    low, high, answers = 1, 100, []
    while len(answers) < 8:
        guess = (low + high) // 2
        if kind == "onebot_group":
            assert say(stack, kind, str(guess), OTHER) == []  # another member: not their game
        (answer,) = say(stack, kind, str(guess), player)
        answers.append(answer)
        if answer == "correct":
            break
        low, high = (guess + 1, high) if answer == "higher" else (low, guess - 1)
    assert answers[-1] == "correct" and len(answers) <= 7, answers
    assert say(stack, kind, "/cancel", player) == ["nothing to cancel"]


def test_cancel_through_the_stack(stack: Stack) -> None:
    say(stack, "onebot_group", "/guess", PLAYER)
    assert say(stack, "onebot_group", "/cancel", PLAYER) == ["/guess cancelled"]
    assert say(stack, "onebot_group", "50", PLAYER) == []


def test_qqbus_data_shows_the_conversation_and_values(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    from qqbus.bot_data import BotData
    from qqbus_dev.cli import main
    from qqbus_dev.data_view import find_table

    say(stack, "onebot_group", "/guess", OTHER)
    table = find_table(stack.client("dynamodb"), stack.state)
    assert table is not None
    BotData(table, stack.client("dynamodb")).user("123456789", OTHER).incr("points", 3)
    capsys.readouterr()
    assert main(["data", "--state-file", str(stack.state_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "values" and lines[2].split()[:4] == ["123456789", f"user:{OTHER}", "points", "3"]
    waiting = [line.split() for line in lines if line.startswith("123456789") and "guess" in line.split()]
    assert ["123456789", "group:987654321", str(OTHER), "guess", "0", "waiting"] in [w[:6] for w in waiting]
    assert main(["data", "--json", "--bot", "123456789", "--state-file", str(stack.state_file)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {"bot_id": "123456789", "scope": f"user:{OTHER}", "name": "points", "value": 3} == {
        k: v for k, v in shown["data"][0].items() if k in ("bot_id", "scope", "name", "value")
    }


def test_the_console_shows_the_bot_data_table(stack: Stack) -> None:
    """The console's Bot data tab (what `qqbus data` prints) lists the /guess wait."""
    say(stack, "onebot_private", "/guess", PLAYER)
    shown = stack.get("/console/api/data")
    steps = [(c["user_id"], c["step"]) for c in shown["conversations"]]
    assert (str(PLAYER), "guess") in steps
