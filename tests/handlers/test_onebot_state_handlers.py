"""onebot_group_increase / decrease / ban / admin, through the test kit (the bot fixture: the
template's rules pick the function, moto DynamoDB keeps the state)."""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

import pytest
from qqbus.state import MUTED_UNTIL_LIFTED
from qqbus_dev.testing import Bot, Received

from tests.support import bus_event

SELF = 123456789
GROUP = 987654321
T = 1718000035


def notice_payload(notice_type: str, time: int, **fields: Any) -> dict[str, Any]:
    return {
        "time": time,
        "self_id": SELF,
        "post_type": "notice",
        "notice_type": notice_type,
        "group_id": GROUP,
        "operator_id": 1,
        **fields,
    }


def notice(notice_type: str, time: int, **fields: Any) -> dict[str, Any]:
    payload = notice_payload(notice_type, time, **fields)
    raw = json.dumps(payload).encode()
    return bus_event(
        "onebot.v11",
        f"notice.{notice_type}",
        {
            "bot_id": str(SELF),
            "event_id": hashlib.sha256(raw).hexdigest(),
            "transport": "http_post",
            "received_at": time * 1000,
            "payload": payload,
        },
    )


def state(bot: Bot) -> Any:
    return bot.groups.get(GROUP, bot_id=str(SELF))


def deliver(bot: Bot, handler: str, event: dict[str, Any]) -> Received:
    """``event`` through the bus: it must reach ``handler`` (its rule), and no other."""
    result = bot.receive(event)
    assert [bot.function(name).spec.folder for name in result.functions] == [handler]
    return result


def test_events_payloads_update_state(bot: Bot, sample: Any) -> None:
    deliver(bot, "onebot_group_increase", sample("onebot_group_increase"))
    s = state(bot)
    assert (s.protocol, s.member, s.member_at) == ("onebot", True, 1718000010)
    deliver(bot, "onebot_group_admin", sample("onebot_group_admin"))
    assert state(bot).bot_admin is True
    deliver(bot, "onebot_group_ban", sample("onebot_group_ban"))
    s = state(bot)
    assert (s.muted_until, s.muted_at, s.group_muted_until) == (1718000035 + 600, 1718000035, None)
    deliver(bot, "onebot_group_decrease", sample("onebot_group_decrease"))
    s = state(bot)
    assert (s.member, s.member_at, s.bot_admin) == (False, 1718000040, True)


def test_other_members_joining_or_leaving_change_nothing(bot: Bot) -> None:
    deliver(bot, "onebot_group_increase", notice("group_increase", T, sub_type="approve", user_id=42))
    deliver(bot, "onebot_group_decrease", notice("group_decrease", T + 1, sub_type="leave", user_id=42))
    deliver(bot, "onebot_group_ban", notice("group_ban", T + 2, sub_type="ban", user_id=42, duration=60))
    deliver(bot, "onebot_group_admin", notice("group_admin", T + 3, sub_type="set", user_id=42))
    assert state(bot) is None


def test_kick_me_marks_not_member_even_without_user_id_match(bot: Bot) -> None:
    deliver(bot, "onebot_group_increase", notice("group_increase", T, sub_type="invite", user_id=SELF))
    deliver(bot, "onebot_group_decrease", notice("group_decrease", T + 100, sub_type="kick_me", user_id=0))
    assert state(bot).member is False


def test_a_late_join_does_not_undo_a_newer_leave(bot: Bot) -> None:
    deliver(bot, "onebot_group_decrease", notice("group_decrease", T + 100, sub_type="leave", user_id=SELF))
    deliver(bot, "onebot_group_increase", notice("group_increase", T, sub_type="approve", user_id=SELF))
    assert (state(bot).member, state(bot).member_at) == (False, T + 100)


@pytest.mark.parametrize("duration", [0, -1, None])
def test_whole_group_mute_lasts_until_lifted(bot: Bot, duration: int | None) -> None:
    fields = {} if duration is None else {"duration": duration}
    deliver(bot, "onebot_group_ban", notice("group_ban", T, sub_type="ban", user_id=0, **fields))
    s = state(bot)
    assert (s.group_muted_until, s.group_muted_at, s.muted_until) == (MUTED_UNTIL_LIFTED, T, None)
    assert s.is_muted(now=T + 10**6)
    deliver(bot, "onebot_group_ban", notice("group_ban", T + 50, sub_type="lift_ban", user_id=0, duration=0))
    s = state(bot)
    assert (s.group_muted_until, s.group_muted_at) == (None, T + 50)
    assert not s.is_muted(now=T + 10**6)


def test_a_whole_group_lift_ban_keeps_the_bots_own_mute(bot: Bot) -> None:
    deliver(bot, "onebot_group_ban", notice("group_ban", T, sub_type="ban", user_id=SELF, duration=600))
    deliver(bot, "onebot_group_ban", notice("group_ban", T + 10, sub_type="ban", user_id=0))
    deliver(bot, "onebot_group_ban", notice("group_ban", T + 20, sub_type="lift_ban", user_id=0, duration=0))
    s = state(bot)
    assert (s.muted_until, s.group_muted_until) == (T + 600, None)
    assert s.is_muted(now=T + 30) and not s.is_muted(now=T + 600)


def test_a_short_own_mute_does_not_hide_a_longer_group_mute(bot: Bot) -> None:
    deliver(bot, "onebot_group_ban", notice("group_ban", T, sub_type="ban", user_id=0))
    deliver(bot, "onebot_group_ban", notice("group_ban", T + 10, sub_type="ban", user_id=SELF, duration=60))
    s = state(bot)
    assert (s.muted_until, s.group_muted_until) == (T + 70, MUTED_UNTIL_LIFTED)
    assert s.is_muted(now=T + 3600)  # own mute over, the group's is not
    deliver(bot, "onebot_group_admin", notice("group_admin", T + 20, sub_type="set", user_id=SELF))
    assert not state(bot).is_muted(now=T + 3600)  # an admin speaks through a group mute


@pytest.mark.parametrize(
    "handler, notice_type, fields, why",
    [
        ("onebot_group_ban", "group_ban", {"time": 2**62}, "more than a day ahead"),
        ("onebot_group_ban", "group_ban", {"time": 10**40}, "time"),
        ("onebot_group_ban", "group_ban", {"time": 0}, "before 2010-01-01"),
        ("onebot_group_ban", "group_ban", {"time": True}, "boolean"),
        ("onebot_group_ban", "group_ban", {"time": "１７１８００００３５"}, "not a decimal integer"),
        ("onebot_group_ban", "group_ban", {"user_id": True}, "boolean"),
        ("onebot_group_ban", "group_ban", {"duration": None}, "positive duration"),
        ("onebot_group_ban", "group_ban", {"duration": 0}, "positive duration"),
        ("onebot_group_ban", "group_ban", {"duration": -5}, "positive duration"),
        ("onebot_group_ban", "group_ban", {"sub_type": "unban"}, "sub_type"),
        ("onebot_group_admin", "group_admin", {"sub_type": "remove"}, "sub_type"),
        ("onebot_group_admin", "group_admin", {"group_id": 3.5}, "not an integer"),
        ("onebot_group_increase", "group_increase", {"time": 2**62}, "more than a day ahead"),
        ("onebot_group_decrease", "group_decrease", {"group_id": "１２３"}, "not a decimal integer"),
    ],
)
def test_implausible_or_loosely_typed_events_are_reported_and_change_nothing(
    bot: Bot,
    handler: str,
    notice_type: str,
    fields: dict[str, Any],
    why: str,
) -> None:
    sub_type = {
        "group_ban": "ban",
        "group_admin": "set",
        "group_increase": "approve",
        "group_decrease": "leave",
    }
    base: dict[str, Any] = {"sub_type": sub_type[notice_type], "user_id": SELF, "duration": 600}
    event = notice(notice_type, T, **base)
    payload = event["detail"]["payload"]
    payload.update(fields)
    for name in [k for k, v in fields.items() if v is None]:
        del payload[name]
    result = deliver(bot, handler, event)
    assert result.status == "invalid" and why in (result.error or "")
    result.should_be_invalid(why)
    error = next(line for line in result.logs if line.get("level") == "ERROR")
    assert why in error["message"] and result.metrics["InvalidEvents"] == 1
    result.should_not_write()
    assert state(bot) is None  # nothing stored, no clock frozen


def test_a_ban_of_another_member_without_duration_is_still_ignored(bot: Bot) -> None:
    result = deliver(bot, "onebot_group_ban", notice("group_ban", T, sub_type="ban", user_id=42))
    assert result.value is None and result.status == "handled"
    result.should_not_write()
    assert state(bot) is None


# --- whatever the delivery order, the state the events dictate -------------------------------

#: (notice type, fields, which attribute group it writes or None, the value it writes there,
#: whether it wins a same-second tie against the other kind of its group).
KINDS: list[tuple[str, dict[str, Any], str | None, Any, bool]] = [
    ("group_increase", {"sub_type": "approve", "user_id": SELF}, "member", True, False),
    ("group_decrease", {"sub_type": "kick_me", "user_id": 0}, "member", False, True),
    ("group_decrease", {"sub_type": "leave", "user_id": SELF}, "member", False, True),
    ("group_ban", {"sub_type": "ban", "user_id": SELF, "duration": 600}, "self", "ban", False),
    ("group_ban", {"sub_type": "lift_ban", "user_id": SELF, "duration": 0}, "self", None, True),
    ("group_ban", {"sub_type": "ban", "user_id": 0}, "group", MUTED_UNTIL_LIFTED, False),
    ("group_ban", {"sub_type": "lift_ban", "user_id": 0, "duration": 0}, "group", None, True),
    ("group_admin", {"sub_type": "set", "user_id": SELF}, "admin", True, False),
    ("group_admin", {"sub_type": "unset", "user_id": SELF}, "admin", False, True),
    ("group_ban", {"sub_type": "ban", "user_id": 42, "duration": 60}, None, None, False),
]
ATTRIBUTES = {"member": "member", "self": "muted_until", "group": "group_muted_until", "admin": "bot_admin"}


def _delivery(t: int, k: int, group: int) -> tuple[str, dict[str, Any]]:
    """The handler and the bus event of kind ``k`` at time ``t`` in ``group``."""
    notice_type, fields, *_ = KINDS[k]
    return f"onebot_{notice_type}", notice(notice_type, t, group_id=group, **fields)


def _expected(events: list[tuple[int, int]], group: int) -> dict[str, Any]:
    """Per attribute group, the event latest by (time, wins a tie, event id) decides."""
    want: dict[str, Any] = {}
    for slot, attribute in ATTRIBUTES.items():
        writes = [(t, k) for t, k in events if KINDS[k][2] == slot]
        if not writes:
            want[attribute] = None
            continue

        def order(w: tuple[int, int]) -> tuple[int, bool, str]:
            return w[0], KINDS[w[1]][4], _delivery(*w, group)[1]["detail"]["event_id"]

        t, k = max(writes, key=order)
        value = KINDS[k][3]
        want[attribute] = t + 600 if value == "ban" else value
    return want


def test_shuffled_duplicated_and_same_second_events_end_in_the_state_they_dictate(bot: Bot) -> None:
    rng = random.Random(20261121)
    for trial in range(8):
        group = 5000 + trial  # a row per trial
        # Three seconds for a dozen events: most attribute groups see a tie.
        events = sorted({(T + rng.randrange(3), rng.randrange(len(KINDS))) for _ in range(12)})
        deliveries = events + rng.sample(events, 4)  # at least once: some arrive twice
        rng.shuffle(deliveries)
        for t, k in deliveries:
            deliver(bot, *_delivery(t, k, group))
        s = bot.groups.get(group, bot_id=str(SELF))
        got = {a: getattr(s, a) if s else None for a in ATTRIBUTES.values()}
        assert got == _expected(events, group), (trial, deliveries)


def test_admin_unset(bot: Bot) -> None:
    deliver(bot, "onebot_group_admin", notice("group_admin", T, sub_type="set", user_id=SELF))
    deliver(bot, "onebot_group_admin", notice("group_admin", T + 100, sub_type="unset", user_id=SELF))
    s = state(bot)
    assert (s.bot_admin, s.admin_at) == (False, T + 100)


def test_missing_groups_table_env_is_a_clear_error(
    bot: Bot, sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    del bot.function("onebot_group_increase").env["GROUPS_TABLE_NAME"]  # as if the template lacked it
    monkeypatch.delenv("GROUPS_TABLE_NAME", raising=False)
    with pytest.raises(RuntimeError, match="GROUPS_TABLE_NAME"):
        deliver(bot, "onebot_group_increase", sample("onebot_group_increase"))


def test_a_muted_bots_replies_are_refused_until_the_mute_is_lifted(bot: Bot) -> None:
    now = int(time.time())
    ban = bot.receive(
        bot.onebot.notice("group_ban", sub_type="ban", user_id=SELF, duration=600, time=now - 10)
    )
    ban.should_write("groups", group_id=str(GROUP), muted_until=now - 10 + 600, muted_at=now - 10)
    ban.should_not_call()
    during = bot.receive(bot.onebot.group_message("/ping", time=now - 8))
    during.should_reply("pong")
    during.should_be_refused("muted")
    lift = bot.receive(
        bot.onebot.notice("group_ban", sub_type="lift_ban", user_id=SELF, duration=0, time=now - 5)
    )
    lift.should_write("groups", group_id=str(GROUP), muted_until=None, muted_at=now - 5)
    bot.receive(bot.onebot.group_message("/ping", time=now)).should_be_sent()
