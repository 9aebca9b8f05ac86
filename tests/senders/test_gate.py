"""The gating matrix: every refusal reason and every allowed case, from stored group state."""

from __future__ import annotations

from typing import Any

import pytest
from qqbus.actions import Action, ReplyTo, Target
from qqbus.senders.gate import Allowed, Cite, Passive, Refused, gate_onebot, gate_qq
from qqbus.senders.ledger import InMemoryLedger
from qqbus.state import MUTED_UNTIL_LIFTED, GroupState, UserState

NOW = 1_800_000_000
G = "GROUPOPENID"


def qq(kind: str = "group_message", reply: ReplyTo | None = None, action_id: str = "a1") -> Action:
    target = Target(group_id=G) if kind == "group_message" else Target(user_id="USER")
    return Action(bot_id="b", action_id=action_id, protocol="qq", action=kind, target=target, reply_to=reply)


def message(age: int, msg_id: str = "m1", detail_type: str = "GROUP_AT_MESSAGE_CREATE") -> ReplyTo:
    return ReplyTo(event_id="e-msg", detail_type=detail_type, message_id=msg_id, time=NOW - age)


def group(**fields: Any) -> GroupState:
    return GroupState(bot_id="b", group_id=G, protocol="qq", **fields)


MEMBER = {"member": True, "member_at": NOW - 3600}
CITABLE = {**MEMBER, "reply_event_id": "GROUP_ADD_ROBOT:x", "reply_event_at": NOW - 3600}


def decide(action: Action, state: GroupState | None, ledger: InMemoryLedger | None = None) -> Any:
    ledger = ledger or InMemoryLedger()
    return gate_qq(action, state, NOW, lambda ref, limit: ledger.take_slot("b", ref, action.action_id, limit))


@pytest.mark.parametrize(
    "action, state, expected",
    [
        # passive replies: within the window, whatever the proactive setting
        (qq(reply=message(10)), group(**MEMBER), Passive("m1", 1)),
        (qq(reply=message(299)), group(**MEMBER, proactive=False), Passive("m1", 1)),
        (qq(reply=message(10)), None, Passive("m1", 1)),  # the message itself proves membership
        (qq("c2c_message", reply=message(3599, detail_type="C2C_MESSAGE_CREATE")), None, Passive("m1", 1)),
        # late replies cite the stored event, or are refused as late
        (qq(reply=message(301)), group(**CITABLE), Cite("GROUP_ADD_ROBOT:x", 1)),
        (qq(reply=message(301)), group(**MEMBER), Refused("reply_window_closed", "")),
        (qq(reply=message(301)), group(**CITABLE, proactive=False), Refused("reply_window_closed", "")),
        (
            qq("c2c_message", reply=message(3601, detail_type="C2C_MESSAGE_CREATE")),
            None,
            Refused("reply_window_closed", ""),
        ),
        # unprompted posts: only by citing a stored GROUP_ADD_ROBOT / GROUP_MSG_RECEIVE
        (qq(), group(**CITABLE), Cite("GROUP_ADD_ROBOT:x", 1)),
        (qq(), group(**CITABLE, proactive=True), Cite("GROUP_ADD_ROBOT:x", 1)),
        (qq(), group(**CITABLE, proactive=False), Refused("proactive_off", "")),
        (qq(), group(**MEMBER), Refused("proactive_off", "")),
        (qq(), None, Refused("not_member", "")),
        (qq(), group(member=False, member_at=NOW - 10, reply_event_id="x"), Refused("not_member", "")),
        (qq("c2c_message"), None, Refused("proactive_off", "")),
        # the bot left: nothing goes, passive or not, unless the message is newer than the leaving
        (qq(reply=message(10)), group(member=False, member_at=NOW - 5), Refused("not_member", "")),
        (qq(reply=message(10)), group(member=False, member_at=NOW - 10), Refused("not_member", "")),
        (qq(reply=message(10)), group(member=False, member_at=NOW - 11), Passive("m1", 1)),
        # replying to the citable event itself (a welcome on GROUP_ADD_ROBOT)
        (
            qq(reply=ReplyTo(event_id="add", detail_type="GROUP_ADD_ROBOT", time=NOW - 5)),
            None,
            Cite("add", 1),
        ),
        (
            qq(reply=ReplyTo(event_id="add", detail_type="GROUP_ADD_ROBOT", time=NOW - 5)),
            group(proactive=False, proactive_at=NOW - 1),
            Refused("proactive_off", ""),
        ),
        (
            qq(reply=ReplyTo(event_id="add", detail_type="GROUP_ADD_ROBOT", time=NOW - 5)),
            group(proactive=False, proactive_at=NOW - 9),
            Cite("add", 1),
        ),
        (
            qq(reply=ReplyTo(event_id="del", detail_type="GROUP_DEL_ROBOT", time=NOW - 5)),
            group(**MEMBER),
            Refused("proactive_off", ""),
        ),
    ],
)
def test_qq_matrix(action: Action, state: GroupState | None, expected: Any) -> None:
    got = decide(action, state)
    if isinstance(expected, Refused):
        assert isinstance(got, Refused) and got.reason == expected.reason and got.message
    else:
        assert got == expected


def test_five_replies_to_a_message_then_reply_limit() -> None:
    ledger = InMemoryLedger()
    seqs = [decide(qq(reply=message(10), action_id=f"a{i}"), group(**CITABLE), ledger) for i in range(5)]
    assert seqs == [Passive("m1", n) for n in range(1, 6)]
    sixth = decide(qq(reply=message(10), action_id="a6"), group(**CITABLE), ledger)
    assert isinstance(sixth, Refused) and sixth.reason == "reply_limit"
    # a repeated action keeps its own msg_seq; another message has its own five
    assert decide(qq(reply=message(10), action_id="a2"), group(**CITABLE), ledger) == Passive("m1", 3)
    assert decide(qq(reply=message(10, msg_id="m2"), action_id="a6"), group(**CITABLE), ledger) == Passive(
        "m2", 1
    )


def test_event_citations_get_distinct_msg_seqs() -> None:
    ledger = InMemoryLedger()
    got = [decide(qq(action_id=f"p{i}"), group(**CITABLE), ledger) for i in range(7)]
    assert [c.msg_seq for c in got] == list(range(1, 8))  # no limit of ours; QQ's is its own


def ob(action: str = "send_group_msg", reply: ReplyTo | None = None, **params: Any) -> Action:
    return Action(
        bot_id="1",
        action_id="x",
        protocol="onebot",
        action=action,
        target=Target(group_id=str(params["group_id"])) if "group_id" in params else Target(user_id="2"),
        params=params,
        reply_to=reply,
    )


def og(**fields: Any) -> GroupState:
    return GroupState(bot_id="1", group_id="5", protocol="onebot", **fields)


@pytest.mark.parametrize(
    "action, state, reason",
    [
        (ob(group_id=5), None, None),
        (ob(group_id=5), og(member=True, member_at=NOW - 9), None),
        (ob(group_id=5), og(member=False, member_at=NOW - 9), "not_member"),
        (
            ob(group_id=5, reply=message(5, detail_type="message.group")),
            og(member=False, member_at=NOW - 9),
            None,
        ),
        (ob(group_id=5), og(muted_until=NOW + 60), "muted"),
        (ob(group_id=5), og(muted_until=NOW - 1), None),
        (ob(group_id=5), og(muted_until=MUTED_UNTIL_LIFTED), "muted"),
        (ob("send_msg", group_id=5, message_type="group"), og(muted_until=NOW + 60), "muted"),
        # a whole-group mute does not stop an admin bot; its own mute does
        (ob(group_id=5), og(group_muted_until=NOW + 60), "muted"),
        (ob(group_id=5), og(group_muted_until=MUTED_UNTIL_LIFTED, bot_admin=True), None),
        (ob(group_id=5), og(muted_until=NOW + 60, bot_admin=True), "muted"),
        (ob(group_id=5), og(group_muted_until=NOW - 1), None),
        (ob("send_group_forward_msg", group_id=5), og(muted_until=NOW + 60), "muted"),
        # a mute stops posting, not other group actions; leaving stops them all
        (ob("set_group_card", group_id=5, user_id=2), og(muted_until=NOW + 60), None),
        (ob("set_group_card", group_id=5, user_id=2), og(member=False, member_at=NOW - 1), "not_member"),
        # private messages are not gated on any group
        (ob("send_private_msg", user_id=2), None, None),
    ],
)
def test_onebot_matrix(action: Action, state: GroupState | None, reason: str | None) -> None:
    got = gate_onebot(action, state, NOW)
    if reason is None:
        assert got == Allowed()
    else:
        assert isinstance(got, Refused) and got.reason == reason


def user(**fields: Any) -> UserState:
    return UserState(bot_id="b", user_id="USER", protocol="qq", **fields)


FRIEND = {"friend": True, "friend_at": NOW - 60, "reply_event_id": "FRIEND_ADD:f", "reply_event_at": NOW - 60}


@pytest.mark.parametrize(
    "action, state, expected",
    [
        # an unprompted C2C message cites the user's stored FRIEND_ADD / C2C_MSG_RECEIVE
        (qq("c2c_message"), user(**FRIEND), Cite("FRIEND_ADD:f", 1)),
        (qq("c2c_message"), user(**FRIEND, proactive=True, proactive_at=NOW - 5), Cite("FRIEND_ADD:f", 1)),
        (
            qq("c2c_message"),
            user(**FRIEND, proactive=False, proactive_at=NOW - 5),
            Refused("proactive_off", ""),
        ),
        (qq("c2c_message"), user(friend=False, friend_at=NOW - 5), Refused("proactive_off", "")),
        (qq("c2c_message"), None, Refused("proactive_off", "")),
        # a late reply falls back to the stored event, else it is late
        (
            qq("c2c_message", reply=message(3601, detail_type="C2C_MESSAGE_CREATE")),
            user(**FRIEND),
            Cite("FRIEND_ADD:f", 1),
        ),
        (
            qq("c2c_message", reply=message(3601, detail_type="C2C_MESSAGE_CREATE")),
            user(friend=True),
            Refused("reply_window_closed", ""),
        ),
        # answering the citable event itself (a greeting on FRIEND_ADD), unless refused since
        (
            qq("c2c_message", reply=ReplyTo(event_id="add", detail_type="FRIEND_ADD", time=NOW - 5)),
            None,
            Cite("add", 1),
        ),
        (
            qq("c2c_message", reply=ReplyTo(event_id="add", detail_type="FRIEND_ADD", time=NOW - 5)),
            user(proactive=False, proactive_at=NOW - 1),
            Refused("proactive_off", ""),
        ),
        # passive replies do not depend on the user's opt-in
        (
            qq("c2c_message", reply=message(30, detail_type="C2C_MESSAGE_CREATE")),
            user(proactive=False, proactive_at=NOW - 1),
            Passive("m1", 1),
        ),
    ],
)
def test_c2c_matrix(action: Action, state: UserState | None, expected: Any) -> None:
    ledger = InMemoryLedger()
    got = gate_qq(
        action, None, NOW, lambda ref, limit: ledger.take_slot("b", ref, action.action_id, limit), state
    )
    if isinstance(expected, Refused):
        assert isinstance(got, Refused) and got.reason == expected.reason and got.message
    else:
        assert got == expected
