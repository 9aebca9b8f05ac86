"""Issue 8 regressions: strict ids and times, plausible event times, strict sub_types, mute durations.

Each refusal is checked where it matters: the specific model does not validate (so its handler
reports the event invalid), and ``parse_event`` still gives the base model with a problem that
names the field (so ingress publishes it and logs why).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from qqbus.events import UnknownPayload, onebot, parse_event, qq
from qqbus.events.types import EARLIEST_EVENT_TIME, MAX_CLOCK_AHEAD_SECONDS, EventTime, UnixSeconds

T = 1718000035
SELF = 10001
BAN: dict[str, Any] = {
    "time": T,
    "self_id": SELF,
    "post_type": "notice",
    "notice_type": "group_ban",
    "sub_type": "ban",
    "group_id": 3,
    "operator_id": 4,
    "user_id": SELF,
    "duration": 600,
}
ADD_ROBOT: dict[str, Any] = {
    "op": 0,
    "t": "GROUP_ADD_ROBOT",
    "id": "GROUP_ADD_ROBOT:1",
    "d": {"group_openid": "G", "op_member_openid": "M", "timestamp": T},
}


def refused(model: type[Any], payload: dict[str, Any], field: str) -> str:
    """Assert ``model`` refuses ``payload`` on ``field`` and parse_event falls back; the problem."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(payload)
    assert any(field in ".".join(map(str, e["loc"])) for e in caught.value.errors()), caught.value
    parsed = parse_event(payload)
    assert not isinstance(parsed.model, model)
    assert parsed.problem and field in parsed.problem
    return parsed.problem


# --- ids and times are integers, not whatever converts to one ----------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("group_id", True),
        ("user_id", False),
        ("operator_id", 4.5),
        ("group_id", "３"),  # full-width digit
        ("group_id", "٣"),  # Arabic-Indic digit
        ("group_id", " 3"),
        ("group_id", "3_000"),
        ("group_id", "+3"),
        ("group_id", "0x3"),
        ("group_id", 2.0**60),  # whole, but a float cannot carry such an id exactly
        ("duration", True),
        ("time", 2**62),
    ],
)
def test_specific_models_refuse_bools_fractions_and_other_digits(field: str, value: Any) -> None:
    refused(onebot.GroupBan, {**BAN, field: value}, field)


@pytest.mark.parametrize(
    "field, value, why",
    [
        ("time", True, "true is a boolean"),
        ("self_id", True, "true is a boolean"),
        ("time", 1718000035.5, "not an integer"),
        ("time", "１７１８００００３５", "not a decimal integer"),
        ("time", 10**40, "less than or equal to 9223372036854775807"),
    ],
)
def test_a_time_or_self_id_that_is_no_integer_is_no_event_at_all(field: str, value: Any, why: str) -> None:
    # The envelope needs integers here, so ingress refuses such a body (400) and says why.
    with pytest.raises(UnknownPayload, match=f"{field}: .*{why}"):
        parse_event({**BAN, field: value})
    with pytest.raises(ValidationError):  # and a handler, if one got it, reports it invalid
        onebot.GroupBan.model_validate({**BAN, field: value})


def test_numeric_strings_whole_floats_and_64_bit_ids_are_still_accepted() -> None:
    ban = onebot.GroupBan.model_validate(
        {**BAN, "time": str(T), "self_id": str(SELF), "user_id": float(SELF), "group_id": "-2147483649"}
    )
    assert (ban.time, ban.self_id, ban.user_id, ban.group_id) == (T, SELF, SELF, -2147483649)
    assert type(ban.user_id) is int


# --- event times are plausible -------------------------------------------------------------


@pytest.mark.parametrize(
    "when, why",
    [
        (2**62, "more than a day ahead"),
        (0, "before 2010-01-01"),
        (1718000035000, "more than a day ahead"),  # milliseconds, not seconds
        (EARLIEST_EVENT_TIME - 1, "before 2010-01-01"),
    ],
)
def test_implausible_times_are_refused_by_onebot_and_qq_models(when: int, why: str) -> None:
    assert why in refused(onebot.GroupBan, {**BAN, "time": when}, "time")
    qq_payload = {**ADD_ROBOT, "d": {**ADD_ROBOT["d"], "timestamp": when}}
    assert why in refused(qq.GroupAddRobot, qq_payload, "timestamp")


def test_a_qq_timestamp_of_10_to_the_40_is_refused_not_stored() -> None:
    payload = {**ADD_ROBOT, "d": {**ADD_ROBOT["d"], "timestamp": 10**40}}
    assert "more than a day ahead" in refused(qq.GroupAddRobot, payload, "timestamp")


def test_the_time_window_is_2010_to_a_day_ahead_of_now() -> None:
    now = int(time.time())
    adapter = TypeAdapter(EventTime)
    assert adapter.validate_python(EARLIEST_EVENT_TIME) == EARLIEST_EVENT_TIME
    assert adapter.validate_python(now + 3600) == now + 3600  # a sender's clock a little fast
    with pytest.raises(ValidationError, match="more than a day ahead"):
        adapter.validate_python(now + MAX_CLOCK_AHEAD_SECONDS + 60)


@pytest.mark.parametrize(
    "timestamp",
    [
        "１７１８００００３５",  # full-width digits
        "2023-11-06T13:37:18",  # no offset: which instant?
        "2023-11-06",
        "2023-11-06T13:37:18+24:00",
        "2023-02-30T00:00:00Z",
        " 1718000035",
        True,
        1718000035.5,
    ],
)
def test_qq_timestamps_refuse_what_is_not_unix_seconds_or_rfc3339(timestamp: Any) -> None:
    refused(
        qq.GroupMsgReject,
        {**ADD_ROBOT, "t": "GROUP_MSG_REJECT", "d": {**ADD_ROBOT["d"], "timestamp": timestamp}},
        "timestamp",
    )


def test_qq_rfc3339_offsets_fractions_and_leap_seconds() -> None:
    adapter = TypeAdapter(UnixSeconds)
    assert adapter.validate_python("2023-11-06T13:37:18+08:00") == 1699249038
    assert adapter.validate_python("2023-11-06T05:37:18.999999Z") == 1699249038
    assert adapter.validate_python("2023-11-06 05:37:18z") == 1699249038
    assert adapter.validate_python("2016-12-31T23:59:60Z") == 1483228799  # counted as :59


@pytest.mark.parametrize(
    "change, field",
    [
        ({"group_openid": ""}, "group_openid"),
        ({"group_openid": 123}, "group_openid"),
        ({"op_member_openid": ""}, "op_member_openid"),
        ({"group_openid": "G" * 129}, "group_openid"),
    ],
)
def test_qq_group_events_need_real_openids(change: dict[str, Any], field: str) -> None:
    refused(qq.GroupDelRobot, {**ADD_ROBOT, "t": "GROUP_DEL_ROBOT", "d": {**ADD_ROBOT["d"], **change}}, field)


def test_qq_group_events_need_an_event_id() -> None:
    refused(qq.GroupMsgReceive, {**ADD_ROBOT, "t": "GROUP_MSG_RECEIVE", "id": ""}, "id")


# --- sub_types where the protocol lists them -----------------------------------------------


@pytest.mark.parametrize("sub_type", ["", "SET", "remove", "unset "])
def test_group_admin_sub_type_is_set_or_unset_nothing_else(sub_type: str) -> None:
    payload = {**BAN, "notice_type": "group_admin", "sub_type": sub_type}
    refused(onebot.GroupAdmin, payload, "sub_type")
    assert type(parse_event(payload).model) is onebot.NoticeEvent


@pytest.mark.parametrize("sub_type", ["", "ban_all", "lift"])
def test_group_ban_sub_type_is_ban_or_lift_ban(sub_type: str) -> None:
    refused(onebot.GroupBan, {**BAN, "sub_type": sub_type}, "sub_type")


@pytest.mark.parametrize(
    "payload, model",
    [
        ({**BAN, "notice_type": "group_decrease", "sub_type": "disband"}, onebot.GroupDecrease),
        ({**BAN, "notice_type": "group_increase", "sub_type": "qrcode"}, onebot.GroupIncrease),
        (
            {
                "time": T,
                "self_id": 1,
                "post_type": "meta_event",
                "meta_event_type": "lifecycle",
                "sub_type": "x",
            },
            onebot.Lifecycle,
        ),
    ],
)
def test_unknown_sub_types_of_other_events_still_parse(payload: dict[str, Any], model: type[Any]) -> None:
    parsed = parse_event(payload)
    assert type(parsed.model) is model and parsed.problem is None


# --- mute durations --------------------------------------------------------------------------


@pytest.mark.parametrize("duration", [None, 0, -1, -600])
def test_a_ban_of_the_bot_without_a_positive_duration_is_invalid(duration: int | None) -> None:
    payload = {k: v for k, v in BAN.items() if k != "duration"}
    if duration is not None:
        payload["duration"] = duration
    assert "positive duration" in refused(onebot.GroupBan, payload, "")


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": 0},  # the whole group: lasts until lifted
        {"user_id": 0, "duration": -1},
        {"user_id": 42},  # another member: the bot's state does not depend on it
        {"sub_type": "lift_ban"},
        {"sub_type": "lift_ban", "duration": 0},
    ],
)
def test_bans_that_may_omit_a_duration(change: dict[str, Any]) -> None:
    payload = {k: v for k, v in {**BAN, **change}.items() if k != "duration" or "duration" in change}
    assert type(parse_event(payload).model) is onebot.GroupBan


def test_no_ban_lasts_longer_than_qq_allows() -> None:
    assert onebot.GroupBan.model_validate({**BAN, "duration": onebot.MAX_MUTE_SECONDS}).duration == 30 * 86400
    refused(onebot.GroupBan, {**BAN, "duration": onebot.MAX_MUTE_SECONDS + 1}, "duration")
