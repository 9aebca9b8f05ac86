"""qq_group_add_robot / del_robot / msg_reject / msg_receive, through the test kit (the template's
rules pick the function, moto DynamoDB keeps the state)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from qqbus_dev.testing import Bot, Received

from tests.support import bus_event

APPID = "102000001"
GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
T = 1718000035
KINDS = {
    "GROUP_ADD_ROBOT": "qq_group_add_robot",
    "GROUP_DEL_ROBOT": "qq_group_del_robot",
    "GROUP_MSG_REJECT": "qq_group_msg_reject",
    "GROUP_MSG_RECEIVE": "qq_group_msg_receive",
}


def qq_event(t: str, ts: int, *, group: str = GROUP, n: int = 0) -> dict[str, Any]:
    event_id = f"{t}:{ts}-{n}"
    payload = {
        "op": 0,
        "t": t,
        "id": event_id,
        "d": {"group_openid": group, "op_member_openid": "MEMBER", "timestamp": ts},
    }
    return bus_event(
        "qq.official",
        t,
        {
            "bot_id": APPID,
            "event_id": event_id,
            "transport": "webhook",
            "received_at": ts * 1000,
            "payload": payload,
        },
    )


def deliver(bot: Bot, handler: str, event: dict[str, Any]) -> Received:
    """``event`` through the bus: it must reach ``handler`` (its rule), and no other."""
    result = bot.receive(event)
    assert [bot.function(name).spec.folder for name in result.functions] == [handler]
    return result


def test_add_robot_marks_member_and_keeps_the_event_id(bot: Bot, sample: Any) -> None:
    event = sample("qq_group_add_robot")
    deliver(bot, "qq_group_add_robot", event)
    state = bot.groups.get(event["detail"]["payload"]["d"]["group_openid"], bot_id=event["detail"]["bot_id"])
    assert state is not None
    assert (state.protocol, state.member, state.member_at) == ("qq", True, 1699240248)
    assert state.member_by == "E4F4AEA33253A2797FB897C50B81D7ED"
    assert state.reply_event_id == "GROUP_ADD_ROBOT:39ab91b8-36ee-44d6-80e9-4447a2f2c571"


def test_del_robot_keeps_the_record(bot: Bot, sample: Any) -> None:
    deliver(bot, "qq_group_add_robot", sample("qq_group_add_robot"))
    deliver(bot, "qq_group_del_robot", sample("qq_group_del_robot"))
    state = bot.groups.get(GROUP, bot_id="102000001")
    assert state is not None and state.member is False and state.member_at == 1699240426
    assert state.reply_event_id == "GROUP_ADD_ROBOT:39ab91b8-36ee-44d6-80e9-4447a2f2c571"


def test_reject_then_receive(bot: Bot, sample: Any) -> None:
    deliver(bot, "qq_group_add_robot", sample("qq_group_add_robot"))
    deliver(bot, "qq_group_msg_reject", sample("qq_group_msg_reject"))
    state = bot.groups.get(GROUP, bot_id="102000001")
    assert state is not None and state.proactive is False and state.reply_event_id is None
    deliver(bot, "qq_group_msg_receive", sample("qq_group_msg_receive"))
    state = bot.groups.get(GROUP, bot_id="102000001")
    assert state is not None and state.proactive is True
    assert state.reply_event_id == "GROUP_MSG_RECEIVE:db4a10f1-0599-4345-bbbb-a2ed194b9c9c"


def test_a_late_receive_never_overrides_a_newer_reject(bot: Bot) -> None:
    deliver(bot, "qq_group_msg_reject", qq_event("GROUP_MSG_REJECT", T + 1000))
    deliver(bot, "qq_group_msg_receive", qq_event("GROUP_MSG_RECEIVE", T))
    state = bot.groups.get(GROUP, bot_id=APPID)
    assert state is not None
    assert (state.proactive, state.proactive_at, state.reply_event_id) == (False, T + 1000, None)


def test_a_duplicate_changes_nothing(bot: Bot) -> None:
    event = qq_event("GROUP_ADD_ROBOT", T)
    first = deliver(bot, "qq_group_add_robot", event)
    first.should_write(
        "groups", group_id=GROUP, member=True, member_at=T, reply_event_id=f"GROUP_ADD_ROBOT:{T}-0"
    )
    again = deliver(bot, "qq_group_add_robot", event)  # EventBridge delivers at least once
    assert again.status in ("handled", "duplicate")  # ran again (its writes are conditional) or skipped
    again.should_not_write()
    again.should_not_call()


#: Which event wins a same-second tie in its attribute group (then the greater event id).
WINS_A_TIE = {"GROUP_DEL_ROBOT", "GROUP_MSG_REJECT"}


def _expected(events: list[tuple[str, int, str]]) -> dict[str, Any]:
    """What the events dictate: per attribute group, the latest by (time, wins a tie, event id)."""

    def latest(kinds: set[str], wins: set[str]) -> tuple[str, int, str] | None:
        writes = [e for e in events if e[0] in kinds]
        return max(writes, key=lambda e: (e[1], e[0] in wins, e[2])) if writes else None

    member = latest({"GROUP_ADD_ROBOT", "GROUP_DEL_ROBOT"}, WINS_A_TIE)
    proactive = latest({"GROUP_MSG_REJECT", "GROUP_MSG_RECEIVE"}, WINS_A_TIE)
    # reply_event_id is set by ADD and RECEIVE, cleared by REJECT (which wins a tie), left by DEL.
    reply = latest({"GROUP_ADD_ROBOT", "GROUP_MSG_RECEIVE", "GROUP_MSG_REJECT"}, WINS_A_TIE)
    return {
        "member": member and member[0] == "GROUP_ADD_ROBOT",
        "member_at": member and member[1],
        "proactive": proactive and proactive[0] == "GROUP_MSG_RECEIVE",
        "proactive_at": proactive and proactive[1],
        "reply_event_id": None if reply is None or reply[0] == "GROUP_MSG_REJECT" else reply[2],
    }


def test_shuffled_duplicated_and_same_second_sequences_end_in_the_state_event_time_dictates(bot: Bot) -> None:
    rng = random.Random(20261121)
    for trial in range(12):
        group = f"G{trial}"
        # A dozen events in four seconds: most attribute groups see same-second ties.
        # Event ids are unique across trials (n), as the idempotency table sees them.
        history = {
            (rng.choice(list(KINDS)), T + rng.randrange(4), 10 * trial + rng.randrange(2)) for _ in range(12)
        }
        events = sorted((t, ts, f"{t}:{ts}-{n}") for t, ts, n in history)
        deliveries = events + rng.sample(events, 4)  # at-least-once: some arrive twice
        rng.shuffle(deliveries)
        for t, ts, event_id in deliveries:
            deliver(bot, KINDS[t], qq_event(t, ts, group=group, n=int(event_id.rsplit("-", 1)[1])))
        state = bot.groups.get(group, bot_id=APPID)
        assert state is not None
        want = _expected(events)
        got = {k: getattr(state, k) for k in want}
        assert got == want, (trial, deliveries)


@pytest.mark.parametrize(
    "change, why",
    [
        ({"timestamp": 2**62}, "more than a day ahead"),
        ({"timestamp": 10**40}, "more than a day ahead"),
        ({"timestamp": 0}, "before 2010-01-01"),
        ({"timestamp": True}, "boolean"),
        ({"timestamp": "１７１８００００３５"}, "neither Unix seconds nor an RFC 3339"),
        ({"timestamp": "2024-06-10T06:13:30"}, "RFC 3339 date-time with an offset"),
        ({"group_openid": ""}, "group_openid"),
        ({"group_openid": 12345}, "group_openid"),
    ],
)
@pytest.mark.parametrize("t", sorted(KINDS))
def test_implausible_or_loosely_typed_events_are_reported_and_change_nothing(
    bot: Bot, t: str, change: dict[str, Any], why: str
) -> None:
    event = qq_event(t, T)
    event["detail"]["payload"]["d"].update(change)
    result = deliver(bot, KINDS[t], event)
    assert result.status == "invalid" and why in (result.error or "")
    result.should_not_write()
    assert bot.groups.all() == []  # nothing stored, no clock frozen


def test_a_same_second_reject_beats_receive_in_either_order(bot: Bot) -> None:
    for n, order in enumerate(
        (["GROUP_MSG_REJECT", "GROUP_MSG_RECEIVE"], ["GROUP_MSG_RECEIVE", "GROUP_MSG_REJECT"])
    ):
        group = f"G{n}"
        for t in order:
            deliver(bot, KINDS[t], qq_event(t, T, group=group, n=n))
        state = bot.groups.get(group, bot_id=APPID)
        assert state is not None and (state.proactive, state.reply_event_id) == (False, None)
