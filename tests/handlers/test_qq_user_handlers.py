"""qq_friend_add / friend_del / c2c_msg_reject / c2c_msg_receive: the users table, in event-time order
(through the test kit: the template's rules pick the function, moto DynamoDB keeps the state)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from qqbus.state import InMemoryUserStore, UserStore
from qqbus_dev.testing import Bot, Received

from tests.support import bus_event

APPID = "102000001"
USER = "E4F4AEA33253A2797FB897C50B81D7ED"
T = 1718000035
KINDS = {
    "FRIEND_ADD": "qq_friend_add",
    "FRIEND_DEL": "qq_friend_del",
    "C2C_MSG_REJECT": "qq_c2c_msg_reject",
    "C2C_MSG_RECEIVE": "qq_c2c_msg_receive",
}


def deliver(bot: Bot, handler: str, event: dict[str, Any]) -> Received:
    """``event`` through the bus: it must reach ``handler`` (its rule), and no other."""
    result = bot.receive(event)
    assert [bot.function(name).spec.folder for name in result.functions] == [handler]
    return result


def qq_event(t: str, ts: int, *, user: str = USER, n: int = 0) -> dict[str, Any]:
    event_id = f"{t}:{ts}-{n}" if user == USER else f"{t}:{user}-{ts}-{n}"
    payload = {"op": 0, "t": t, "id": event_id, "d": {"openid": user, "timestamp": ts}}
    detail = {"bot_id": APPID, "event_id": event_id, "transport": "webhook", "received_at": ts * 1000}
    return bus_event("qq.official", t, {**detail, "payload": payload})


def test_each_events_file_sets_its_attributes(bot: Bot, sample: Any) -> None:
    deliver(bot, "qq_friend_add", sample("qq_friend_add"))
    state = bot.users.get(USER, bot_id=APPID)
    assert state is not None and (state.protocol, state.friend, state.friend_at) == ("qq", True, 1718000000)
    assert state.reply_event_id == sample("qq_friend_add")["detail"]["event_id"]
    deliver(bot, "qq_c2c_msg_reject", qq_event("C2C_MSG_REJECT", T))
    state = bot.users.get(USER, bot_id=APPID)
    assert state is not None and (state.proactive, state.reply_event_id) == (False, None)
    deliver(bot, "qq_c2c_msg_receive", qq_event("C2C_MSG_RECEIVE", T + 1))
    state = bot.users.get(USER, bot_id=APPID)
    assert (
        state is not None and state.proactive is True and state.reply_event_id == f"C2C_MSG_RECEIVE:{T + 1}-0"
    )
    deliver(bot, "qq_friend_del", qq_event("FRIEND_DEL", T + 2))
    state = bot.users.get(USER, bot_id=APPID)
    assert state is not None and (state.friend, state.reply_event_id, state.proactive) == (False, None, True)


@pytest.mark.parametrize(
    "bad",
    [
        {"openid": "", "timestamp": T},
        {"openid": USER},
        {"openid": 5, "timestamp": T},
        {"openid": USER, "timestamp": 2**62},
    ],
)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_malformed_events_are_invalid_and_store_nothing(bot: Bot, kind: str, bad: dict[str, Any]) -> None:
    event = qq_event(kind, T)
    event["detail"]["payload"]["d"] = bad
    result = deliver(bot, KINDS[kind], event)
    assert result.status == "invalid"
    result.should_be_invalid()
    result.should_not_write()
    assert bot.users.all() == []


def _final(store: UserStore, events: list[tuple[str, int, int]], apply: Any, user: str = USER) -> Any:
    for kind, ts, n in events:
        apply(store, kind, ts, n, user)
    state = store.get(APPID, user)
    assert state is not None
    return (state.friend, state.proactive, state.reply_event_id)


def _apply(store: UserStore, kind: str, ts: int, n: int, user: str = USER) -> None:
    event_id = f"{kind}:{ts}-{n}" if user == USER else f"{kind}:{user}-{ts}-{n}"
    if kind in ("FRIEND_ADD", "FRIEND_DEL"):
        store.write(APPID, user, "qq", store.friend(kind == "FRIEND_ADD", at=ts, tiebreak=event_id))
        store.write(
            APPID,
            user,
            "qq",
            store.reply_event(event_id if kind == "FRIEND_ADD" else None, at=ts, tiebreak=event_id),
        )
    else:
        accepts = kind == "C2C_MSG_RECEIVE"
        store.write(APPID, user, "qq", store.proactive(accepts, at=ts, tiebreak=event_id))
        store.write(
            APPID, user, "qq", store.reply_event(event_id if accepts else None, at=ts, tiebreak=event_id)
        )


def test_shuffled_and_duplicated_sequences_end_in_event_time_order(bot: Bot) -> None:
    rng = random.Random(7)
    for trial in range(6):
        events = [(rng.choice(sorted(KINDS)), T + rng.randrange(4), n) for n in range(6)]  # same-second ties
        user = f"U{trial}"
        expected = _final(InMemoryUserStore(), sorted(events, key=lambda e: (e[1], e[2])), _apply, user)
        delivered = events + rng.sample(events, 3)  # duplicates
        rng.shuffle(delivered)
        for kind, ts, n in delivered:
            event = qq_event(kind, ts, user=user, n=n)
            deliver(bot, KINDS[kind], event)
        state = bot.users.get(user, bot_id=APPID)
        assert state is not None and (
            state.friend,
            state.proactive,
            state.reply_event_id and state.reply_event_id,
        ) == (expected[0], expected[1], expected[2]), (trial, delivered)


def test_in_memory_order_independence() -> None:
    rng = random.Random(11)
    for _ in range(200):
        events = [(rng.choice(sorted(KINDS)), T + rng.randrange(3), n) for n in range(5)]
        orders = [list(events) for _ in range(3)]
        for order in orders:
            rng.shuffle(order)
        finals = {_final(InMemoryUserStore(), order + order[:2], _apply) for order in orders}
        assert len(finals) == 1, events
