"""Fuzzing the id and time types and the state-writing models with hypothesis.

Each type is checked against an oracle written from the rule, not from the code: what an
integer field takes is exactly the JSON integers, whole floats up to 2**53 and ASCII decimal
strings, in range; nothing else gets through, and nothing raises anything but a ValidationError.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from qqbus.events import UnknownPayload, onebot, parse_event, qq
from qqbus.events.types import (
    EARLIEST_EVENT_TIME,
    INT64_MAX,
    INT64_MIN,
    MAX_CLOCK_AHEAD_SECONDS,
    EventTime,
    Int64,
    UnixSeconds,
)

INT64 = TypeAdapter(Int64)
EVENT_TIME = TypeAdapter(EventTime)
UNIX_SECONDS = TypeAdapter(UnixSeconds)

ascii_decimals = st.from_regex(r"-?[0-9]{1,22}", fullmatch=True)
other_digits = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(EARLIEST_EVENT_TIME - 10, int(time.time()) + 2 * MAX_CLOCK_AHEAD_SECONDS),
    st.floats(),
    st.floats(EARLIEST_EVENT_TIME, 2e9).map(float.__floor__).map(float),
    st.text(max_size=25),
    ascii_decimals,
    other_digits,
    st.lists(st.integers(), max_size=2),
)


def _is_ascii_decimal(text: str) -> bool:
    digits = text.removeprefix("-")
    return 0 < len(digits) <= 20 and all(c in "0123456789" for c in digits)


def integer_oracle(value: Any) -> int | None:
    """The integer a strict field reads from ``value``, or None when it must refuse it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        exact = math.isfinite(value) and abs(value) <= 2**53 and value == int(value)
        return int(value) if exact else None
    if isinstance(value, str) and _is_ascii_decimal(value):
        return int(value)
    return None


def validate(adapter: TypeAdapter[int], value: Any) -> int | None:
    try:
        got = adapter.validate_python(value)
    except ValidationError:
        return None
    assert type(got) is int
    return got


def plausible(seconds: int | None) -> int | None:
    if seconds is None:
        return None
    latest = int(time.time()) + MAX_CLOCK_AHEAD_SECONDS
    assume(abs(seconds - latest) > 5)  # not on the moving edge of "now"
    return seconds if EARLIEST_EVENT_TIME <= seconds <= latest else None


@given(scalars)
def test_int64_takes_exactly_the_integers(value: Any) -> None:
    want = integer_oracle(value)
    if want is not None and not INT64_MIN <= want <= INT64_MAX:
        want = None
    assert validate(INT64, value) == want


@given(scalars)
def test_event_time_takes_exactly_the_plausible_integers(value: Any) -> None:
    assert validate(EVENT_TIME, value) == plausible(integer_oracle(value))


@st.composite
def rfc3339(draw: st.DrawFn) -> tuple[str, int | None]:
    """An RFC 3339 date-time (possibly an impossible date) and its Unix seconds, if it has any."""
    y, mo, d = draw(st.integers(1, 9999)), draw(st.integers(1, 13)), draw(st.integers(1, 31))
    h, mi, s = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 60))
    frac = draw(st.sampled_from(["", ".5", ".123456", ".999999999"]))
    offset = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    zone = (
        draw(st.sampled_from(["Z", "z"]))
        if offset == 0
        else f"{'+' if offset > 0 else '-'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    )
    sep = draw(st.sampled_from(["T", "t", " "]))
    text = f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{zone}"
    try:
        moment = datetime(y, mo, d, h, mi, min(s, 59), tzinfo=timezone(timedelta(minutes=offset)))
    except ValueError:
        return text, None
    return text, int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())


@given(rfc3339())
def test_unix_seconds_reads_rfc3339_exactly(case: tuple[str, int | None]) -> None:
    text, seconds = case
    assert validate(UNIX_SECONDS, text) == plausible(seconds)
    assert validate(UNIX_SECONDS, text[:-1]) is None  # no offset, or a cut one


@given(scalars)
def test_unix_seconds_takes_the_integers_event_time_takes(value: Any) -> None:
    assert validate(UNIX_SECONDS, value) == plausible(integer_oracle(value))


# --- the state-writing models, whatever their fields hold ---------------------------------------

STATE_NOTICES = (onebot.GroupBan, onebot.GroupAdmin, onebot.GroupIncrease, onebot.GroupDecrease)


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` three times in four, else any scalar: so that whole valid events come up too."""
    return st.integers(0, 3).flatmap(lambda n: good if n else scalars)


ids = mostly(st.sampled_from([0, 10001, "10001", 42, 600, -1, 2**40]))


@settings(max_examples=300)
@given(
    st.fixed_dictionaries(
        {
            "time": mostly(st.integers(EARLIEST_EVENT_TIME, int(time.time()))),
            "self_id": st.sampled_from([10001, "10001"]),
            "group_id": ids,
            "operator_id": ids,
            "user_id": ids,
        },
        optional={
            "sub_type": mostly(st.sampled_from(["ban", "lift_ban", "set", "unset", "kick_me", "approve"])),
            "duration": ids,
            "extra": scalars,
        },
    ),
    st.sampled_from(["group_ban", "group_admin", "group_increase", "group_decrease"]),
)
def test_onebot_state_events_parse_to_valid_models_or_fall_back(body: dict[str, Any], notice: str) -> None:
    payload = {**body, "post_type": "notice", "notice_type": notice}
    try:
        parsed = parse_event(payload)
    except UnknownPayload:
        return  # not even an envelope: ingress answers 400
    model = parsed.model
    event(type(model).__name__)
    if not isinstance(model, STATE_NOTICES):
        assert parsed.problem  # fell back to a base model: the handler will say why
        return
    assert EARLIEST_EVENT_TIME <= model.time <= time.time() + MAX_CLOCK_AHEAD_SECONDS
    for name in ("self_id", "group_id", "operator_id", "user_id", "duration"):
        if name in type(model).model_fields:
            value = getattr(model, name)
            assert type(value) is int and INT64_MIN <= value <= INT64_MAX
    if isinstance(model, onebot.GroupBan):
        assert model.sub_type in ("ban", "lift_ban")
        if model.sub_type == "ban" and model.user_id == model.self_id:
            assert 0 < model.duration <= onebot.MAX_MUTE_SECONDS
    if isinstance(model, onebot.GroupAdmin):
        assert model.sub_type in ("set", "unset")


@settings(max_examples=200)
@given(
    st.sampled_from(["GROUP_ADD_ROBOT", "GROUP_DEL_ROBOT", "GROUP_MSG_REJECT", "GROUP_MSG_RECEIVE"]),
    mostly(st.just("E:1")),
    st.fixed_dictionaries(
        {
            "group_openid": mostly(st.just("G")),
            "op_member_openid": mostly(st.just("M")),
            "timestamp": mostly(
                st.one_of(st.integers(EARLIEST_EVENT_TIME, 2 * 10**9), rfc3339().map(lambda c: c[0]))
            ),
        },
    ),
)
def test_qq_group_events_parse_to_valid_models_or_fall_back(t: str, event_id: Any, d: dict[str, Any]) -> None:
    try:
        parsed = parse_event({"op": 0, "t": t, "id": event_id, "d": d})
    except UnknownPayload:
        return  # "id" is not even a string: ingress answers 400
    model = parsed.model
    event(type(model).__name__)
    if not isinstance(model.d, qq.GroupRobotData):  # type: ignore[attr-defined]
        assert type(model) is qq.QQDispatch and parsed.problem
        return
    data = model.d  # type: ignore[attr-defined]
    assert isinstance(model.id, str) and model.id  # type: ignore[attr-defined]
    assert isinstance(data.group_openid, str) and 0 < len(data.group_openid) <= 128
    assert isinstance(data.op_member_openid, str) and data.op_member_openid
    assert EARLIEST_EVENT_TIME <= data.timestamp <= time.time() + MAX_CLOCK_AHEAD_SECONDS
