"""UserStore semantics (the users table), the same for the DynamoDB and the in-memory adapter:
the latest event wins, and in one second the value that undoes or restricts wins."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from qqbus.state import DynamoUserStore, InMemoryUserStore, UserStore


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[UserStore]:
    if request.param == "memory":
        yield InMemoryUserStore()
    else:
        tables = request.getfixturevalue("aws_tables")
        yield DynamoUserStore(tables["UsersTable"])


Write = Callable[[UserStore, str, int], bool]

#: rule -> (the loser, the winner, the row after both in one second, the row after the loser's
#: value comes one second later). Each write takes (store, event id, event time).
TIES: dict[str, tuple[Write, Write, dict[str, Any], dict[str, Any]]] = {
    "FRIEND_DEL beats FRIEND_ADD": (
        lambda s, e, at: s.write("b", "u", "qq", s.friend(True, at=at, tiebreak=e))[0],
        lambda s, e, at: s.write("b", "u", "qq", s.friend(False, at=at, tiebreak=e))[0],
        {"friend": False, "friend_at": 100},
        {"friend": True, "friend_at": 101},
    ),
    "C2C_MSG_REJECT beats C2C_MSG_RECEIVE": (
        lambda s, e, at: s.write("b", "u", "qq", s.proactive(True, at=at, tiebreak=e))[0],
        lambda s, e, at: s.write("b", "u", "qq", s.proactive(False, at=at, tiebreak=e))[0],
        {"proactive": False, "proactive_at": 100},
        {"proactive": True, "proactive_at": 101},
    ),
    "clearing the event to cite beats setting it": (
        lambda s, e, at: s.write("b", "u", "qq", s.reply_event("FRIEND_ADD:1", at=at, tiebreak=e))[0],
        lambda s, e, at: s.write("b", "u", "qq", s.reply_event(None, at=at, tiebreak=e))[0],
        {"reply_event_id": None, "reply_event_at": 100},
        {"reply_event_id": "FRIEND_ADD:1", "reply_event_at": 101},
    ),
}


def _row(store: UserStore, want: dict[str, Any]) -> dict[str, Any]:
    s = store.get("b", "u")
    assert s is not None
    return {k: getattr(s, k) for k in want}


@pytest.mark.parametrize("rule", sorted(TIES))
@pytest.mark.parametrize("winner_first", [True, False])
def test_a_same_second_tie_goes_the_restricting_way_in_either_order(
    store: UserStore, rule: str, winner_first: bool
) -> None:
    loser, winner, want, _ = TIES[rule]
    # The loser has the greater event id: the rule decides, not the id.
    if winner_first:
        assert winner(store, "A", 100) and not loser(store, "Z", 100)
    else:
        assert loser(store, "Z", 100) and winner(store, "A", 100)
    assert _row(store, want) == want


@pytest.mark.parametrize("rule", sorted(TIES))
def test_restricting_wins_only_a_tie(store: UserStore, rule: str) -> None:
    """A friend added again the next second is a friend again."""
    loser, winner, _, later = TIES[rule]
    assert winner(store, "A", 100)
    assert loser(store, "B", 101)
    assert _row(store, later) == later
    assert not winner(store, "C", 100)  # the older restriction, delivered late, changes nothing
    assert _row(store, later) == later


@pytest.mark.parametrize("first", ["E1", "E2"])
def test_two_adds_in_one_second_are_ordered_by_event_id(store: UserStore, first: str) -> None:
    other = "E2" if first == "E1" else "E1"
    store.write("b", "u", "qq", store.reply_event(f"cite-{first}", at=100, tiebreak=first))
    store.write("b", "u", "qq", store.reply_event(f"cite-{other}", at=100, tiebreak=other))
    s = store.get("b", "u")
    assert s is not None and s.reply_event_id == "cite-E2"


def test_a_duplicate_and_an_older_event_change_nothing(store: UserStore) -> None:
    assert store.write("b", "u", "qq", store.friend(True, at=100, tiebreak="E1"))[0]
    assert not store.write("b", "u", "qq", store.friend(True, at=100, tiebreak="E1"))[0]  # again
    assert not store.write("b", "u", "qq", store.friend(False, at=99, tiebreak="E9"))[0]  # older
    s = store.get("b", "u")
    assert s is not None and (s.friend, s.friend_at, s.protocol) == (True, 100, "qq")


def test_each_attribute_has_its_own_clock(store: UserStore) -> None:
    store.write("b", "u", "qq", store.proactive(False, at=500, tiebreak="R"))
    assert store.write("b", "u", "qq", store.friend(True, at=100, tiebreak="F"))[0]  # older, another clock
    s = store.get("b", "u")
    assert s is not None and (s.friend, s.proactive) == (True, False)


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_the_final_row_does_not_depend_on_delivery_order(order: tuple[int, ...]) -> None:
    """ADD and DEL, RECEIVE and REJECT, two of each in one second, delivered in any order."""
    events: list[Callable[[UserStore], bool]] = [
        lambda s: s.write("b", "u", "qq", s.friend(True, at=100, tiebreak="E4"))[0],
        lambda s: s.write("b", "u", "qq", s.friend(False, at=100, tiebreak="E1"))[0],
        lambda s: s.write("b", "u", "qq", s.proactive(True, at=100, tiebreak="E3"))[0],
        lambda s: s.write("b", "u", "qq", s.proactive(False, at=100, tiebreak="E2"))[0],
    ]
    store = InMemoryUserStore()
    for i in order:
        events[i](store)
    s = store.get("b", "u")
    assert s is not None and (s.friend, s.proactive) == (False, False)


def test_scan_lists_a_bots_users(store: UserStore) -> None:
    store.write("b1", "u2", "onebot", store.friend(True, at=1))
    store.write("b1", "u1", "onebot", store.friend(True, at=1))
    store.write("b2", "u1", "onebot", store.friend(False, at=1))
    assert [(s.bot_id, s.user_id) for s in store.scan("b1")] == [("b1", "u1"), ("b1", "u2")]
    assert len(store.scan()) == 3
