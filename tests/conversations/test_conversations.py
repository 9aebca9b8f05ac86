"""Conversations on moto DynamoDB: turns, the end, timeout, cancel, other users and chats,
duplicates and out-of-order delivery, the TTL; the shipped /guess as the contract describes it."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from qqbus.bot_data import BotData, row_key
from qqbus.commands import Commands
from qqbus.conversations import Conversations, Turn
from qqbus.handler import Delivered

from tests.commands.conftest import ONEBOT_GROUP, delivered
from tests.conversations.conftest import Say, run

T0 = 1_750_000_000
PLAYER, OTHER = 20001, 20002
KINDS = ["qq_group", "qq_c2c", "onebot_group", "onebot_private"]
QQ_PLAYER, QQ_OTHER = "PLAYEROPENID0000000000000000000A", "OTHEROPENID00000000000000000000B"


def _secret(kind: str, user: Any) -> int:
    """The number the player's running /guess game picked (read from its stored state)."""
    from qqbus.example_commands import conversations

    waiting = conversations.waiting(delivered(kind, "0", user=user, at=T0))
    assert waiting is not None and waiting.active
    return int(waiting.state["secret"])


def _users(kind: str) -> tuple[Any, Any]:
    return (QQ_PLAYER, QQ_OTHER) if kind.startswith("qq") else (PLAYER, OTHER)


# --- /guess, the contract ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_guess_binary_search_finishes_in_seven_and_then_numbers_are_plain_messages(
    say: Say, kind: str
) -> None:
    player, _ = _users(kind)
    start = say(kind, "/guess", user=player, at=T0)
    assert start.text == "I picked a number from 1 to 100. Guess it!"
    low, high, answers = 1, 100, []
    for n in range(1, 8):
        guess = (low + high) // 2
        answers.append(say(kind, str(guess), user=player, at=T0 + n).text)
        if answers[-1] == "correct":
            break
        assert answers[-1] in ("higher", "lower")
        low, high = (guess + 1, high) if answers[-1] == "higher" else (low, guess - 1)
    assert answers[-1] == "correct" and len(answers) <= 7
    after = say(kind, "50", user=player, at=T0 + 20)  # the game is over: a number is just a message
    assert (after.handled, after.texts) == (False, [])


@pytest.mark.parametrize("kind", ["qq_group", "onebot_group"])
def test_other_members_are_left_alone_and_their_commands_still_work(say: Say, kind: str) -> None:
    player, other = _users(kind)
    say(kind, "/guess", user=player, at=T0)
    secret = _secret(kind, player)
    assert say(kind, str(secret), user=other, at=T0 + 1).texts == []  # not their game
    assert say(kind, "/ping", user=other, at=T0 + 2).text == "pong"
    assert say(kind, "/cancel", user=other, at=T0 + 3).text == "nothing to cancel"
    assert say(kind, str(secret), user=player, at=T0 + 4).text == "correct"


def test_the_players_own_commands_run_mid_game_and_the_game_goes_on(say: Say) -> None:
    say("onebot_group", "/guess", user=PLAYER, at=T0)
    secret = _secret("onebot_group", PLAYER)
    assert say("onebot_group", "/ping", user=PLAYER, at=T0 + 1).text == "pong"
    assert say("onebot_group", str(secret), user=PLAYER, at=T0 + 2).text == "correct"


def test_a_reply_in_another_chat_is_not_a_turn(say: Say) -> None:
    say("onebot_group", "/guess", user=PLAYER, at=T0)
    secret = _secret("onebot_group", PLAYER)
    elsewhere = say("onebot_group", str(secret), user=PLAYER, group=ONEBOT_GROUP + 1, at=T0 + 1)
    private = say("onebot_private", str(secret), user=PLAYER, at=T0 + 2)
    assert (elsewhere.texts, private.texts) == ([], [])
    assert say("onebot_group", str(secret), user=PLAYER, at=T0 + 3).text == "correct"


def test_cancel_ends_the_game(say: Say) -> None:
    say("qq_c2c", "/guess", user=QQ_PLAYER, at=T0)
    assert say("qq_c2c", "/cancel", user=QQ_PLAYER, at=T0 + 1).text == "/guess cancelled"
    assert say("qq_c2c", "50", user=QQ_PLAYER, at=T0 + 2).texts == []
    assert say("qq_c2c", "/cancel", user=QQ_PLAYER, at=T0 + 3).text == "nothing to cancel"


def test_five_idle_minutes_end_the_game_and_each_turn_restarts_the_clock(say: Say) -> None:
    say("onebot_private", "/guess", user=PLAYER, at=T0)
    secret = _secret("onebot_private", PLAYER)
    wrong = secret % 100 + 1
    assert say("onebot_private", str(wrong), user=PLAYER, at=T0 + 299).text in ("higher", "lower")
    assert say("onebot_private", str(wrong), user=PLAYER, at=T0 + 299 + 300).text in ("higher", "lower")
    late = say("onebot_private", str(secret), user=PLAYER, at=T0 + 299 + 300 + 301)
    assert (late.handled, late.texts) == (False, [])
    assert say("onebot_private", "/cancel", user=PLAYER, at=T0 + 1000).text == "nothing to cancel"


def test_a_non_number_is_a_hint_to_the_bot_and_silence_in_group_chatter_never_a_turn(say: Say) -> None:
    say("onebot_group", "/guess", user=PLAYER, at=T0)
    assert say("onebot_group", "nice weather", user=PLAYER, at=T0 + 1).texts == []
    mention = [{"type": "at", "data": {"qq": "123456789"}}, {"type": "text", "data": {"text": " hmm?"}}]
    assert (
        say("onebot_group", mention, user=PLAYER, at=T0 + 2).text == "send a number from 1 to 100, or /cancel"
    )
    say("onebot_private", "/guess", user=PLAYER, at=T0)
    assert (
        say("onebot_private", "fifty", user=PLAYER, at=T0 + 1).text
        == "send a number from 1 to 100, or /cancel"
    )
    from qqbus.example_commands import conversations

    waiting = conversations.waiting(delivered("onebot_group", "0", user=PLAYER, at=T0))
    assert waiting is not None and waiting.turns == 0  # hints are not turns


def test_a_retried_guess_command_keeps_the_first_runs_number(say: Say) -> None:
    from qqbus.example_commands import commands

    ev = delivered("onebot_group", "/guess", user=PLAYER, at=T0)
    first, again = run(commands, ev), run(commands, ev)
    assert first.texts == again.texts and first.actions[0].action_id == again.actions[0].action_id
    from qqbus.example_commands import conversations

    waiting = conversations.waiting(ev)
    assert waiting is not None and waiting.version == 1  # written once


def test_without_a_table_guess_says_so_and_messages_are_not_routed(
    say: Say, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOT_DATA_TABLE_NAME")
    assert (
        say("onebot_private", "/guess", user=PLAYER, at=T0).text
        == "/guess is not set up here (no bot data table)"
    )
    assert say("onebot_private", "50", user=PLAYER, at=T0 + 1).texts == []


# --- retries, duplicates, order -----------------------------------------------------------------


def _counting() -> tuple[Commands, Conversations]:
    """A counter conversation: each message is a turn that adds one and says the count."""
    conversations = Conversations()
    commands = Commands(conversations=conversations, switches=False)

    @commands.command("count", help="count my messages")
    def count(call: Any) -> None:
        conversations.start(call.ev, "count", {"n": 0})
        call.reply("counting")

    @conversations.step("count", timeout=60, max_turns=3)
    def count_turn(turn: Turn) -> None:
        turn.state["n"] += 1
        turn.state.setdefault("texts", []).append(turn.text)
        turn.reply(f"{turn.state['n']}: {turn.text}")

    return commands, conversations


def _at(ev: Delivered[Any], received_at: int) -> Delivered[Any]:
    return ev.model_copy(update={"received_at": received_at})


def test_a_redelivered_message_never_advances_twice_and_gets_the_same_answer(bot_table: str) -> None:
    commands, conversations = _counting()
    run(commands, delivered("onebot_group", "/count", user=PLAYER, at=T0))
    one = delivered("onebot_group", "a", user=PLAYER, at=T0 + 1)
    first, again = run(commands, one), run(commands, one)
    assert first.text == again.text == "1: a"
    assert first.actions[0].action_id == again.actions[0].action_id  # the sender runs it once
    assert run(commands, delivered("onebot_group", "b", user=PLAYER, at=T0 + 2)).text == "2: b"
    late_copy = run(commands, one)  # an old duplicate, after a later turn: nothing at all
    assert (late_copy.handled, late_copy.texts) == (True, [])
    waiting = conversations.waiting(one)
    assert waiting is not None and waiting.state == {"n": 2, "texts": ["a", "b"]}


def test_an_older_message_delivered_after_a_newer_one_is_ignored(bot_table: str) -> None:
    commands, conversations = _counting()
    run(commands, delivered("onebot_private", "/count", user=PLAYER, at=T0))
    older = delivered("onebot_private", "older", user=PLAYER, at=T0 + 5)
    newer = delivered("onebot_private", "newer", user=PLAYER, at=T0 + 6)
    assert run(commands, newer).text == "1: newer"
    assert run(commands, older).texts == []
    waiting = conversations.waiting(newer)
    assert waiting is not None and waiting.state["texts"] == ["newer"]


def test_in_one_second_the_message_received_first_comes_first(bot_table: str) -> None:
    commands, _ = _counting()
    run(commands, _at(delivered("qq_c2c", "/count", user=QQ_PLAYER, at=T0), 1))
    first = _at(delivered("qq_c2c", "first", user=QQ_PLAYER, at=T0 + 1), T0 * 1000 + 1100)
    second = _at(delivered("qq_c2c", "second", user=QQ_PLAYER, at=T0 + 1), T0 * 1000 + 1200)
    assert [run(commands, second).texts, run(commands, first).texts] == [["1: second"], []]
    third = _at(delivered("qq_c2c", "third", user=QQ_PLAYER, at=T0 + 1), T0 * 1000 + 1300)
    assert run(commands, third).text == "2: third"


def test_a_turn_racing_another_is_written_once(bot_table: str) -> None:
    """Two runs read the same version: the second write fails, and its rerun sees it is older."""
    commands, conversations = _counting()
    run(commands, delivered("onebot_private", "/count", user=PLAYER, at=T0))
    a = delivered("onebot_private", "a", user=PLAYER, at=T0 + 1)
    b = delivered("onebot_private", "b", user=PLAYER, at=T0 + 2)
    step = conversations.steps["count"]
    original = step.run

    def racing(turn: Turn) -> None:
        if turn.text == "a" and not getattr(racing, "done", False):
            racing.done = True  # type: ignore[attr-defined]
            assert run(commands, b).text == "1: b"  # b lands between a's read and a's write
        original(turn)

    step.run = racing
    assert run(commands, a).texts == []  # reread: a is older than b, so it is dropped
    waiting = conversations.waiting(a)
    assert waiting is not None and (waiting.state["texts"], waiting.version) == (["b"], 2)


def test_max_turns_end_the_conversation(bot_table: str) -> None:
    commands, conversations = _counting()
    run(commands, delivered("onebot_private", "/count", user=PLAYER, at=T0))
    texts = [
        run(commands, delivered("onebot_private", w, user=PLAYER, at=T0 + i)).texts
        for i, w in enumerate("abcd", 1)
    ]
    assert texts == [["1: a"], ["2: b"], ["3: c"], []]
    waiting = conversations.waiting(delivered("onebot_private", "x", user=PLAYER, at=T0))
    assert waiting is not None and not waiting.active and waiting.turns == 3


def test_the_row_is_keyed_by_bot_chat_and_user_and_expires_by_ttl(bot_table: str, data: BotData) -> None:
    import time

    commands, _ = _counting()
    ev = delivered("onebot_group", "/count", user=PLAYER, at=T0)
    run(commands, ev)
    item = boto3.client("dynamodb").get_item(
        TableName=bot_table, Key=data.key(ev.bot_id, row_key("conv", f"group:{ONEBOT_GROUP}", str(PLAYER)))
    )["Item"]
    assert (item["chat"]["S"], item["user_id"]["S"], item["step"]["S"]) == (
        f"group:{ONEBOT_GROUP}",
        str(PLAYER),
        "count",
    )
    assert int(item["deadline"]["N"]) == T0 + 60
    assert int(item["expires_at"]["N"]) >= int(time.time()) + 59  # TTL: counted from now too
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=bot_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_guess_ends_after_twenty_wrong_guesses_and_says_the_number(say: Say) -> None:
    say("onebot_private", "/guess", user=PLAYER, at=T0)
    secret = _secret("onebot_private", PLAYER)
    wrong = 1 if secret != 1 else 2
    answers = [say("onebot_private", str(wrong), user=PLAYER, at=T0 + i).text for i in range(1, 21)]
    assert set(answers[:19]) == {"higher" if secret > wrong else "lower"}
    assert answers[19].endswith(f"that was the last guess; it was {secret}")
    assert say("onebot_private", str(secret), user=PLAYER, at=T0 + 21).texts == []
