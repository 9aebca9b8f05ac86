"""The router with the shipped example commands, on the four kinds of conversation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from qqbus.commands import Commands
from qqbus.state import InMemoryGroupStore

from tests.commands.conftest import ONEBOT_GROUP, ONEBOT_SELF, QQ_GROUP, QQ_MEMBER, Say

ALL_KINDS = ["qq_group", "qq_c2c", "onebot_group", "onebot_private"]
GROUPS = ["qq_group", "onebot_group"]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_ping_echo_and_roll_answer_alike_on_every_conversation(say: Say, kind: str) -> None:
    assert say(kind, "/ping").text == "pong"
    assert say(kind, '/echo  say "hi"  twice ').text == 'say "hi"  twice'
    rolled = say(kind, "/roll 3d6").text
    found = re.fullmatch(r"3d6: (\d) \+ (\d) \+ (\d) = (\d+)", rolled)
    assert found, rolled
    rolls = [int(found[i]) for i in (1, 2, 3)]
    assert all(1 <= r <= 6 for r in rolls) and sum(rolls) == int(found[4])


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_an_alias_and_the_name_in_any_case_run_the_command(say: Say, kind: str) -> None:
    assert re.fullmatch(r"1d20: \d{1,2}", say(kind, "/r d20").text)
    assert say(kind, "/PING").text == "pong"
    assert say(kind, "／ping").text == "pong"  # a full-width slash, as Chinese input methods type it


def test_one_line_for_many_dice(say: Say) -> None:
    assert re.fullmatch(r"50d2: \d+", say("onebot_private", "/roll 50d2").text)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_an_unknown_command_gets_a_hint_not_silence(say: Say, kind: str) -> None:
    assert say(kind, "/pnig").text == "unknown command /pnig - did you mean /ping?"
    assert say(kind, "/xyzzy").text == "unknown command /xyzzy; /help lists the commands"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_wrong_argument_gets_the_usage_line(say: Say, kind: str) -> None:
    assert say(kind, "/roll two dice").text == "'two': expected dice like 2d6\nusage: /roll <NdM>"
    assert say(kind, "/echo").text == "<text...> is missing\nusage: /echo <text...>"
    assert say(kind, "/ping now").text == "unexpected 'now'\nusage: /ping"


@pytest.mark.parametrize(
    "message",
    ["hello", "", "   ", "/", "/ ping", "//ping", "/usr/bin/env", "/ping!", "ping /ping", "／"],
)
@pytest.mark.parametrize("kind", ["qq_c2c", "onebot_group"])
def test_what_is_not_a_command_gets_no_answer(say: Say, kind: str, message: str) -> None:
    run = say(kind, message)
    assert not run.handled and run.actions == []


def test_the_bots_own_mention_and_a_quoted_reply_come_before_the_command(say: Say) -> None:
    message = [
        {"type": "reply", "data": {"id": "77"}},
        {"type": "at", "data": {"qq": ONEBOT_SELF}},
        {"type": "text", "data": {"text": " /echo hi"}},
    ]
    assert say("onebot_group", message).text == "hi"
    assert say("qq_group", f"<@!{'BOT'}> /echo hi").text == "hi"  # QQ: the model strips the bot's mention
    # Someone else's mention first: not a command for this bot.
    assert not say("onebot_group", "[CQ:at,qq=42] /ping").handled


@pytest.mark.parametrize(
    "kind, message, expected",
    [
        ("onebot_group", "/id [CQ:at,qq=555]", "id: 555"),
        ("onebot_private", "/id 555", "id: 555"),
        ("qq_group", "/id <@OTHER0PENID>", "id: OTHER0PENID"),
        ("qq_group", "/id", f"your id: {QQ_MEMBER}"),
        ("qq_c2c", "/id", f"your id: {QQ_MEMBER}"),
        ("onebot_group", "/id", "your id: 345678901"),
    ],
)
def test_id_names_a_mentioned_user_or_the_caller(say: Say, kind: str, message: str, expected: str) -> None:
    assert say(kind, message).text == expected


# --- permissions --------------------------------------------------------------------------------


def test_a_member_may_not_disable_and_nothing_is_stored(say: Say, store: InMemoryGroupStore) -> None:
    assert say("onebot_group", "/disable roll", role="member").text == (
        "not allowed: /disable is for group admins"
    )
    assert say("onebot_group", "/disable roll", role=None).text.startswith("not allowed")  # no role sent
    assert say("qq_group", "/disable roll").text == "not allowed: /disable is for group admins"
    assert store.items == {}


@pytest.mark.parametrize("role", ["admin", "owner", "ADMIN"])
def test_onebot_admins_and_the_owner_may(say: Say, role: str) -> None:
    assert say("onebot_group", "/disable roll", role=role).text == "/roll is disabled in this group"


def test_an_anonymous_message_has_no_role(say: Say) -> None:
    anonymous = {"anonymous": {"id": 1, "name": "匿名", "flag": "f"}}
    assert say("onebot_group", "/disable roll", role="admin", extra=anonymous).text.startswith("not allowed")


def test_listed_ids_pass_every_check_on_both_platforms(say: Say, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QQBUS_COMMAND_ADMINS", f" 42 , {QQ_MEMBER},")
    assert say("qq_group", "/disable echo").text == "/echo is disabled in this group"
    assert (
        say("onebot_group", "/disable roll", user=42, role="member").text == "/roll is disabled in this group"
    )
    assert say("onebot_group", "/enable roll", user=43, role="member").text.startswith("not allowed")


def test_owners_only_commands(make_say: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = Commands(switches=False)

    @commands.command("nuke", help="owner only", allowed="owners")
    def nuke(call: Any) -> None:
        call.reply("done")

    say = make_say(commands)
    assert say("onebot_group", "/nuke", role="admin").text == "not allowed: /nuke is for the group owner"
    assert say("onebot_group", "/nuke", role="owner").text == "done"
    assert say("onebot_private", "/nuke").text.startswith("not allowed")  # no role in private
    monkeypatch.setenv("QQBUS_COMMAND_ADMINS", "12345678")
    assert say("onebot_private", "/nuke").text == "done"


# --- per-group switches -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", GROUPS)
def test_disable_and_enable_a_command_in_one_group(
    say: Say, store: InMemoryGroupStore, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv("QQBUS_COMMAND_ADMINS", QQ_MEMBER)
    admin = {"role": "admin"} if kind == "onebot_group" else {}
    group = QQ_GROUP if kind == "qq_group" else str(ONEBOT_GROUP)
    bot = "102000001" if kind == "qq_group" else str(ONEBOT_SELF)

    assert say(kind, "/disable r", at=1_700_000_000, **admin).text == "/roll is disabled in this group"
    state = store.get(bot, group)
    assert state is not None and state.disabled_commands == ("roll",) and state.protocol == kind[:-6]
    for message in ("/roll 2d6", "/R d6"):  # by name and by alias, for everyone
        assert say(kind, message, role="member").text == "/roll is disabled in this group"
    assert "/roll" not in say(kind, "/help", **admin).text
    other = say(kind, "/roll 1d6", group=12345 if kind == "onebot_group" else "G2", role="member")
    assert other.text.startswith("1d6: ")  # another group is not affected

    assert say(kind, "/enable roll", at=1_700_000_001, **admin).text == "/roll is enabled in this group"
    assert say(kind, "/roll 1d6").text.startswith("1d6: ")
    state = store.get(bot, group)
    assert state is not None and state.disabled_commands is None


def test_a_late_disable_does_not_undo_a_newer_enable(say: Say, store: InMemoryGroupStore) -> None:
    assert (
        say("onebot_group", "/enable echo", at=1_700_000_200, role="admin").text
        == "/echo is enabled in this group"
    )
    assert say("onebot_group", "/disable echo", at=1_700_000_100, role="admin").text == (
        "/echo stays enabled: a switch of the same second or later won"
    )
    assert say("onebot_group", "/echo still here").text == "still here"


def test_in_one_second_off_wins_and_the_admin_is_told(say: Say) -> None:
    disabled = say("onebot_group", "/disable echo", at=1_700_000_100, role="admin")
    assert disabled.text == "/echo is disabled in this group"
    assert say("onebot_group", "/enable echo", at=1_700_000_100, role="admin").text == (
        "/echo stays disabled: a switch of the same second or later won"
    )
    enabled = say("onebot_group", "/enable echo", at=1_700_000_101, role="admin")
    assert enabled.text == "/echo is enabled in this group"


def test_a_repeated_switch_answers_as_the_first_did(say: Say) -> None:
    from qqbus.example_commands import commands

    from tests.commands.conftest import delivered, run

    ev = delivered("onebot_group", "/disable echo", at=1_700_000_100, role="admin")
    assert (
        run(commands, ev).text == run(commands, ev).text == "/echo is disabled in this group"
    )  # a retried run


@pytest.mark.parametrize(
    "message, expected",
    [
        ("/disable disable", "/disable cannot be switched off"),
        ("/disable /enable", "/enable cannot be switched off"),
        ("/disable pnig", "unknown command /pnig - did you mean /ping?"),
        ("/disable", "<command> is missing\nusage: /disable <command>"),
    ],
)
def test_what_cannot_be_switched(say: Say, store: InMemoryGroupStore, message: str, expected: str) -> None:
    assert say("onebot_group", message, role="owner").text == expected
    assert store.items == {}


@pytest.mark.parametrize("kind", ["qq_c2c", "onebot_private"])
def test_switches_work_in_groups_only(say: Say, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setenv("QQBUS_COMMAND_ADMINS", f"{QQ_MEMBER},12345678")
    assert say(kind, "/disable roll").text == "/disable works in groups only"
    assert "/disable" not in say(kind, "/help").text


def test_without_a_groups_table_commands_run_and_switches_say_so(
    make_say: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qqbus.example_commands import commands

    monkeypatch.delenv("GROUPS_TABLE_NAME", raising=False)
    say = make_say(commands)  # the default store: none without GROUPS_TABLE_NAME
    assert say("onebot_group", "/ping").text == "pong"
    assert say("onebot_group", "/disable ping", role="admin").text == (
        "command switches are not set up here (no groups table)"
    )


# --- /help ----------------------------------------------------------------------------------------


def test_help_lists_what_the_caller_may_run_here(say: Say, monkeypatch: pytest.MonkeyPatch) -> None:
    everyone = [
        "/ping - check that the bot answers",
        "/help [command] - list the commands, or show one: /help roll",
        "/echo <text...> - say the text back",
        "/roll <NdM> - roll dice, e.g. /roll 2d6 (also /r)",
        "/id [user] - your id, or a mentioned user's",
        "/whois [user] - a member's nickname (or card) and role (OneBot groups)",
        "/guess - guess my number (1 to 100); /cancel stops",
        "/remind <n>s|m|h|d <text> - post the text here after the delay, e.g. /remind 10m tea",
    ]
    switches = [
        "/disable <command> - turn a command off in this group",
        "/enable <command> - turn a command on in this group",
    ]
    cancel = ["/cancel - stop what the bot waits for (a /guess game)"]
    assert say("onebot_group", "/help", role="member").text.splitlines() == everyone + cancel
    assert say("onebot_group", "/help", role="admin").text.splitlines() == everyone + switches + cancel
    assert say("qq_group", "/help").text.splitlines() == everyone + cancel
    monkeypatch.setenv("QQBUS_COMMAND_ADMINS", QQ_MEMBER)
    assert say("qq_group", "/help").text.splitlines() == everyone + switches + cancel
    in_private = [line for line in everyone if not line.startswith("/whois")]  # /whois: groups only
    assert say("qq_c2c", "/help").text.splitlines() == in_private + cancel  # switches: groups only
    assert say("onebot_private", "/help r").text == everyone[3]
    assert say("onebot_private", "/help pnig").text == "unknown command /pnig - did you mean /ping?"


def test_the_router_logs_each_outcome_without_the_message(
    say: Say, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from qqbus.observability import logger

    handler = logger.registered_handler
    previous = handler.setStream(__import__("sys").stdout)  # type: ignore[attr-defined]
    try:
        say("onebot_group", "/roll secret-words")
        say("onebot_group", "/disable roll")
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    logged = [(line["command"], line["outcome"], line.get("argument")) for line in lines if "command" in line]
    assert logged == [("roll", "wrong_arguments", "dice"), ("disable", "denied", None)]
    assert "secret-words" not in json.dumps(lines)  # content stays out of INFO logs


def test_rolls_do_not_repeat_when_the_random_module_state_does(say: Say) -> None:
    """Environments resumed from one SnapStart snapshot share ``random``'s state: dice must not."""
    import random

    state = random.getstate()
    first = say("onebot_private", "/roll 20d1000").text
    random.setstate(state)
    assert say("onebot_private", "/roll 20d1000").text != first  # 1000**-20 to fail by chance
