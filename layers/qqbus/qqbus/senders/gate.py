"""Whether an action may be sent now, and how: decided from the latest group state.

Pure functions of the action, the stored ``GroupState`` and the time, so every rule is a
unit test. QQ (DESIGN "Protocol facts"): a reply to a message is *passive* (it cites the
message's ``msg_id``) within 5 minutes of a group message or 60 minutes of a C2C message, at
most 5 times per message, each with its own ``msg_seq``. Anything else must cite an event id:
a GROUP_ADD_ROBOT or GROUP_MSG_RECEIVE event, its own or the one the groups table keeps
(``reply_event_id``); a group that sent GROUP_MSG_REJECT refuses those. C2C likewise, with a
user's FRIEND_ADD / C2C_MSG_RECEIVE (the users table) and C2C_MSG_REJECT. Unprompted posts stopped
on 2025-04-21. OneBot: a group message needs membership and no mute (a whole-group mute does
not stop an admin bot).

Event time decides, as in the groups table: a reply to a message sent after the bot rejoined
is fine even if an older "left" is stored; a "left" at or after the message time refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qqbus.actions import Action, ReplyTo
from qqbus.state import GroupState, UserState

#: Seconds a message may be answered passively, by QQ action.
PASSIVE_WINDOW_S = {"group_message": 5 * 60, "c2c_message": 60 * 60}
#: Passive replies QQ accepts per message.
PASSIVE_REPLIES = 5
#: QQ group events whose id may be cited to post into the group (a button click's
#: INTERACTION_CREATE is answered by citing it, like a message's id).
CITABLE_GROUP_EVENTS = frozenset({"GROUP_ADD_ROBOT", "GROUP_MSG_RECEIVE", "INTERACTION_CREATE"})
#: QQ user events whose id may be cited to message the user.
CITABLE_USER_EVENTS = frozenset({"FRIEND_ADD", "C2C_MSG_RECEIVE", "INTERACTION_CREATE"})
#: OneBot actions that post a message into the group named by ``group_id``.
ONEBOT_GROUP_POSTS = frozenset({"send_group_msg", "send_group_forward_msg", "send_msg"})


@dataclass(frozen=True)
class Passive:
    """Reply citing the message: ``msg_id`` with the ``msg_seq``-th reply slot."""

    msg_id: str
    msg_seq: int


@dataclass(frozen=True)
class Cite:
    """Post citing an event id (``event_id``), with its own ``msg_seq``."""

    event_id: str
    msg_seq: int


@dataclass(frozen=True)
class Allowed:
    """Send as asked (OneBot)."""


@dataclass(frozen=True)
class Refused:
    """Not sent: ``reason`` is one of the contract's, ``message`` says why in words."""

    reason: str
    message: str


#: ``take_seq(ref, limit)``: the msg_seq this action holds for ``ref`` (a message or event id),
#: taking the next free one; None when ``limit`` are taken by other actions.
TakeSeq = Callable[[str, int | None], int | None]


def _left_at_or_after(group: GroupState | None, time: int | None) -> bool:
    """The bot is stored as not a member, by an event no older than ``time`` (None: any)."""
    if group is None or group.member is not False:
        return False
    return time is None or (group.member_at or 0) >= time


def _rejected_at_or_after(state: GroupState | UserState | None, time: int | None) -> bool:
    if state is None or state.proactive is not False:
        return False
    return time is None or (state.proactive_at or 0) >= time


def gate_qq(
    action: Action,
    group: GroupState | None,
    now: int,
    take_seq: TakeSeq,
    user: UserState | None = None,
) -> Passive | Cite | Refused:
    """QQ ``group_message`` / ``c2c_message``: passive reply, event citation, or refusal."""
    reply = action.reply_to
    in_group = action.action == "group_message"
    if in_group and _left_at_or_after(group, reply.time if reply else None):
        return Refused("not_member", "the bot is not in this group (by the latest event)")
    late: Refused | None = None
    if reply is not None and reply.message_id:
        window = PASSIVE_WINDOW_S[action.action]
        age = None if reply.time is None else now - reply.time
        if age is None or age <= window:
            seq = take_seq(f"msg:{reply.message_id}", PASSIVE_REPLIES)
            if seq is None:
                return Refused("reply_limit", f"{PASSIVE_REPLIES} replies to this message were sent already")
            return Passive(reply.message_id, seq)
        late = Refused(
            "reply_window_closed", f"the message is {age} s old; passive replies need <= {window} s"
        )
    citable = CITABLE_GROUP_EVENTS if in_group else CITABLE_USER_EVENTS
    if reply is not None and not reply.message_id and reply.detail_type in citable:
        return _cite_own_event(reply, group if in_group else user, take_seq)
    stored = _cite_stored_event(group, take_seq) if in_group else _cite_user_event(user, take_seq)
    return late if late is not None and isinstance(stored, Refused) else stored


def _cite(event_id: str, take_seq: TakeSeq) -> Cite:
    """Cite ``event_id`` with the next free ``msg_seq`` for it (citations have no limit)."""
    return Cite(event_id, take_seq(f"event:{event_id}", None) or 1)


def _cite_own_event(
    reply: ReplyTo, state: GroupState | UserState | None, take_seq: TakeSeq
) -> Cite | Refused:
    """Answer a citable event (GROUP_ADD_ROBOT, FRIEND_ADD, ...) by citing it, unless refused since.

    A button click's answer is the clicker's own request, not a proactive message: a chat that
    turned proactive messages off still gets it."""
    if reply.detail_type != "INTERACTION_CREATE" and _rejected_at_or_after(state, reply.time):
        return Refused("proactive_off", "proactive messages were refused after this event")
    return _cite(reply.event_id, take_seq)


def _cite_stored_event(group: GroupState | None, take_seq: TakeSeq) -> Cite | Refused:
    """An unprompted group post: cite the group's stored event id."""
    if group is None or group.member is not True:
        return Refused("not_member", "the bot is not known to be in this group")
    if group.proactive is False:
        return Refused("proactive_off", "the group refuses proactive messages (GROUP_MSG_REJECT)")
    if not group.reply_event_id:
        return Refused("proactive_off", "no GROUP_ADD_ROBOT / GROUP_MSG_RECEIVE event of this group to cite")
    return _cite(group.reply_event_id, take_seq)


def _cite_user_event(user: UserState | None, take_seq: TakeSeq) -> Cite | Refused:
    """An unprompted C2C message: cite the user's stored FRIEND_ADD / C2C_MSG_RECEIVE event id."""
    if user is not None and user.proactive is False:
        return Refused("proactive_off", "the user refuses proactive messages (C2C_MSG_REJECT)")
    if user is None or not user.reply_event_id:
        return Refused("proactive_off", "no FRIEND_ADD / C2C_MSG_RECEIVE event of this user to cite")
    return _cite(user.reply_event_id, take_seq)


def gate_onebot(action: Action, group: GroupState | None, now: int) -> Allowed | Refused:
    """OneBot: actions on a group need membership; posting into it needs no mute."""
    if action.target.group_id is None:
        return Allowed()
    if _left_at_or_after(group, action.reply_to.time if action.reply_to else None):
        return Refused("not_member", "the bot is not in this group (by the latest event)")
    posts = action.action in ONEBOT_GROUP_POSTS and (
        action.action != "send_msg" or action.params.get("message_type", "group") == "group"
    )
    if posts and group is not None and group.is_muted(now):
        return Refused("muted", "the bot is muted in this group")
    return Allowed()
