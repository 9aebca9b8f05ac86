"""Queries with answers: ask the platform something and continue with the answer.

A handler asks with ``ev.call(<OneBot action>, ..., then="<step>")``; the OneBot sender performs
it (HTTP API or the relay's WebSocket) and puts the result on the bus with the platform's ``data``
and the continuation; the function ``handlers/action_result`` takes results that carry one and
runs the step with an ``Answer``::

    @step("whois.answer")
    def whois_answer(answer: Answer) -> None:
        if not answer.ok:
            answer.reply(f"no answer: {answer.why}")
        elif isinstance(member := answer.data, GroupMemberInfo):
            answer.reply(f"{member.nickname}: {member.role}")

Every query ends in an answer: ``sent`` with its ``data``, ``failed`` (``onebot_<retcode>`` with
the platform's words, e.g. a member who is not in the group; ``timeout`` when the relay's socket
gave no answer in 10 s; ``unavailable`` when the HTTP API stayed unreachable through the
sender's retries) or ``refused`` (the bot left the group). An answer that comes after the
continuation's ``timeout`` is ``late``.

``data`` is typed for the common getters (``RESULT_MODELS``): each model takes the wire names,
every field optional and lenient (a field of the wrong type is None, extra fields are kept), so a
step never fails on what an implementation leaves out or adds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from qqbus.actions import RESULT_SOURCE, Continuation, Outbox, Result
from qqbus.detail import BusEvent
from qqbus.events.message import Segment, to_segments
from qqbus.steps import Resumed, Resuming, resuming

__all__ = [
    "RESULT_MODELS",
    "Answer",
    "GroupInfo",
    "GroupMemberInfo",
    "LoginInfo",
    "MessageInfo",
    "StrangerInfo",
    "answers",
    "typed_data",
]


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isascii() and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _str_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


Int = Annotated[int | None, BeforeValidator(_int_or_none)]
Str = Annotated[str | None, BeforeValidator(_str_or_none)]
Bool = Annotated[bool | None, BeforeValidator(_bool_or_none)]


class OneBotData(BaseModel):
    """A OneBot API answer's ``data``: wire names, every field optional, extra fields kept."""

    model_config = ConfigDict(extra="allow", defer_build=True)


class GroupMemberInfo(OneBotData):
    """``get_group_member_info``: one member of a group (each item of ``get_group_member_list``)."""

    group_id: Int = None
    user_id: Int = None
    nickname: Str = None
    card: Str = None  # the group nickname ("" when unset)
    sex: Str = None  # male | female | unknown
    age: Int = None
    area: Str = None
    join_time: Int = None
    last_sent_time: Int = None
    level: Str = None
    role: Str = None  # owner | admin | member
    unfriendly: Bool = None
    title: Str = None
    title_expire_time: Int = None
    card_changeable: Bool = None

    @property
    def display_name(self) -> str:
        """The card if set, else the nickname, else the number."""
        return self.card or self.nickname or ("" if self.user_id is None else str(self.user_id))


class StrangerInfo(OneBotData):
    """``get_stranger_info``: any QQ user."""

    user_id: Int = None
    nickname: Str = None
    sex: Str = None
    age: Int = None
    qid: Str = None
    level: Int = None
    login_days: Int = None


class GroupInfo(OneBotData):
    """``get_group_info``: a group the bot is in (or, with some implementations, any group)."""

    group_id: Int = None
    group_name: Str = None
    group_memo: Str = None
    group_create_time: Int = None
    member_count: Int = None
    max_member_count: Int = None


class MessageInfo(OneBotData):
    """``get_msg``: a message by id."""

    time: Int = None
    message_type: Str = None  # group | private
    message_id: Int = None
    real_id: Int = None
    group_id: Int = None
    sender: dict[str, Any] | None = None
    message: Any = None  # a CQ-code string or a segment array, as the implementation sends it
    raw_message: Str = None

    @property
    def segments(self) -> list[Segment]:
        """The message as segments ([] when it cannot be read)."""
        try:
            return to_segments(self.message)
        except (ValueError, TypeError):
            return []


class LoginInfo(OneBotData):
    """``get_login_info``: the bot's own account."""

    user_id: Int = None
    nickname: Str = None


def _member_list(data: Any) -> list[GroupMemberInfo]:
    items = data if isinstance(data, list) else []
    return [GroupMemberInfo.model_validate(m) for m in items if isinstance(m, dict)]


#: The typed ``data`` of the common getters, by OneBot action.
RESULT_MODELS: dict[str, Callable[[Any], Any]] = {
    "get_group_member_info": GroupMemberInfo.model_validate,
    "get_group_member_list": _member_list,
    "get_stranger_info": StrangerInfo.model_validate,
    "get_group_info": GroupInfo.model_validate,
    "get_msg": MessageInfo.model_validate,
    "get_login_info": LoginInfo.model_validate,
}


def typed_data(action: str, data: Any) -> Any:
    """``data`` as its action's model (``RESULT_MODELS``); other actions' data as it came.

    Raises
    ------
    ValueError
        When ``data`` is not what the action answers at all (not an object, for a getter of one).
    """
    model = RESULT_MODELS.get(action)
    if model is None or data is None:
        return data
    try:
        return model(data)
    except ValidationError as exc:
        raise ValueError(f"{action} answered {type(data).__name__}, not its data") from exc


#: Words for the reasons a query fails without the platform's own words.
_WHY = {
    "timeout": "no answer in time",
    "unavailable": "the OneBot API could not be reached",
    "not_connected": "the bot is not connected",
    "not_member": "the bot is not in this group",
    "no_route": "no OneBot API is set up for this bot",
    "unsupported_action": "the OneBot implementation does not know this action",
}


@dataclass
class Answer(Resumed):
    """A query's result as its step gets it: ``ok``, typed ``data`` or ``why`` it failed."""

    result: Result = field(repr=False)

    @property
    def ok(self) -> bool:
        """The platform answered with success (and, for a getter, its data)."""
        return self.result.outcome == "sent"

    @property
    def outcome(self) -> str:
        return self.result.outcome

    @property
    def reason(self) -> str | None:
        """``onebot_<retcode>``, ``timeout``, ``unavailable``, ``not_member``, ...; None when ok."""
        return self.result.reason

    @property
    def raw_data(self) -> Any:
        return self.result.data

    @cached_property
    def data(self) -> Any:
        """``data`` typed (``RESULT_MODELS``), as it came for other actions, None when it does not
        fit or there is none."""
        try:
            return typed_data(self.result.action, self.result.data)
        except ValueError:
            return None

    @property
    def late(self) -> bool:
        """The answer came after the continuation's ``timeout``."""
        return (self.result.at - self.then.asked_at) / 1000 > self.then.timeout

    @property
    def why(self) -> str:
        """Why it failed, in words ("" when ok): the platform's own, else the reason's."""
        if self.ok:
            return ""
        words = _WHY.get(self.result.reason or "")
        if self.result.reason and self.result.reason.startswith("onebot_"):
            words = self.result.message or self.result.reason
        return words or self.result.message or str(self.result.reason)


class _AnsweredResult(Result):
    """A result that carries a continuation (what ``handlers/action_result`` takes)."""

    then: Continuation


def _outbox(result: _AnsweredResult, key_prefix: str) -> Outbox:
    # Ids stay unique per query: two queries of one event each resume in their own outbox.
    return Outbox(
        bot_id=result.bot_id,
        event_id=result.origin_event_id or result.action_id,
        detail_type=f"{RESULT_SOURCE}.{result.outcome}",
        function=f"{key_prefix}:{result.action_id}",
    )


_RESUMING: Resuming[_AnsweredResult, Answer] = Resuming(
    what="action result",
    key_fields=("bot_id", "action_id"),
    parse=lambda e: _AnsweredResult.model_validate(_detail_of(e)),
    key=lambda r: {"bot_id": r.bot_id, "action_id": r.action_id},
    keys=lambda r: {
        "action_id": r.action_id,
        "bot_id": r.bot_id,
        "action": f"{r.protocol}.{r.action}",
        "outcome": r.outcome,
        "step": r.then.step,
        "origin_event_id": r.origin_event_id,
    },
    resumed=lambda r, outbox: Answer(bot_id=r.bot_id, then=r.then, outbox=outbox, result=r),
    outbox=_outbox,
    metric="QueriesAnswered",
)


def _detail_of(event: BusEvent) -> dict[str, Any]:
    return {**event.detail, "outcome": event.detail.get("outcome", event.detail_type)}


def answers(fn: Callable[[Answer, Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """Make ``fn(answer, context)`` the Lambda handler of results with a continuation: once per
    action id (a redelivered result is absorbed), its replies published when it returns."""
    return resuming(_RESUMING, fn, default_name="action_result")
