"""``write``: several changes to one row in one conditional UpdateItem, with the outcome of
applying them one by one (each change keeps its own clock and tie)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from qqbus.state import Change, DynamoGroupStore, GroupStore, InMemoryGroupStore


def _count_updates(store: DynamoGroupStore) -> list[str]:
    """The UpdateItem calls the store's real client makes (a botocore hook, not a mock)."""
    calls: list[str] = []
    store._client.meta.events.register(  # type: ignore[attr-defined]
        "provide-client-params.dynamodb.UpdateItem",
        lambda params, **kw: calls.append(params["UpdateExpression"]),
    )
    return calls


def test_a_fresh_event_is_one_update_and_a_partly_stale_one_two(group_store: DynamoGroupStore) -> None:
    calls = _count_updates(group_store)
    wrote = group_store.write(
        "b",
        "g",
        "qq",
        GroupStore.member(True, at=100, by="m", tiebreak="E1"),
        GroupStore.reply_event("E1", at=100),
    )
    assert wrote == (True, True) and len(calls) == 1
    group_store.write(
        "b", "g", "qq", group_store.reply_event(None, at=200, tiebreak="E3")
    )  # a later REJECT cleared it
    calls.clear()
    wrote = group_store.write(
        "b", "g", "qq", GroupStore.member(True, at=150, tiebreak="E2"), GroupStore.reply_event("E2", at=150)
    )
    assert wrote == (True, False)  # the member clock allowed it, the reply clock did not
    assert len(calls) == 2  # the combined try; the row it returned says which change still goes
    state = group_store.get("b", "g")
    assert state is not None and (state.member_at, state.reply_event_id, state.reply_event_at) == (
        150,
        None,
        200,
    )


def test_a_duplicate_or_stale_event_costs_one_refused_write(group_store: DynamoGroupStore) -> None:
    changes = (
        GroupStore.member(True, at=100, by="m", tiebreak="E1"),
        GroupStore.reply_event("E1", at=100, tiebreak="E1"),
        GroupStore.proactive(True, at=100, tiebreak="E1"),
    )
    assert group_store.write("b", "g", "qq", *changes) == (True, True, True)
    before = group_store.get("b", "g")
    calls = _count_updates(group_store)
    assert group_store.write("b", "g", "qq", *changes) == (False, False, False)  # the same event again
    stale = [
        GroupStore.member(False, at=99, tiebreak="E0"),
        GroupStore.reply_event(None, at=99, tiebreak="E0"),
    ]
    assert group_store.write("b", "g", "qq", *stale) == (False, False)  # an older one
    assert len(calls) == 2  # one refused UpdateItem each, no read, no retry per change
    after = group_store.get("b", "g")
    assert before is not None and after is not None
    assert {k: v for k, v in vars(after).items() if k != "updated_at"} == {
        k: v for k, v in vars(before).items() if k != "updated_at"
    }


def test_changes_that_name_one_attribute_twice_are_written_one_by_one(group_store: DynamoGroupStore) -> None:
    calls = _count_updates(group_store)
    wrote = group_store.write("b", "g", "qq", GroupStore.member(True, at=1), GroupStore.member(False, at=2))
    assert wrote == (True, True) and len(calls) == 2
    state = group_store.get("b", "g")
    assert state is not None and (state.member, state.member_at) == (False, 2)


CHANGES = [
    lambda at, tb: GroupStore.member(True, at=at, tiebreak=tb),
    lambda at, tb: GroupStore.member(False, at=at, tiebreak=tb),
    lambda at, tb: GroupStore.proactive(True, at=at, tiebreak=tb),
    lambda at, tb: GroupStore.proactive(False, at=at, tiebreak=tb),
    lambda at, tb: GroupStore.reply_event(tb, at=at, tiebreak=tb),
    lambda at, tb: GroupStore.reply_event(None, at=at, tiebreak=tb),
]


def _rows(store: GroupStore) -> list[dict[str, Any]]:
    return [{k: v for k, v in vars(s).items() if k != "updated_at"} for s in store.scan()]


@pytest.mark.parametrize("seed", range(4))
def test_dynamodb_and_memory_agree_on_shuffled_combined_writes(
    group_store: DynamoGroupStore, seed: int
) -> None:
    rng = random.Random(seed)
    memory = InMemoryGroupStore()
    for n in range(60):
        group = f"g{rng.randrange(3)}"
        picked = rng.sample(range(len(CHANGES)), rng.randrange(1, 4))
        changes: list[Change] = []
        for i in picked:
            change = CHANGES[i](rng.randrange(100, 104), f"E{rng.randrange(5)}")
            if all(c.clock != change.clock for c in changes):
                changes.append(change)
        got = group_store.write("b", group, "qq", *changes)
        assert got == memory.write("b", group, "qq", *changes), (n, changes)
    assert _rows(group_store) == _rows(memory)
