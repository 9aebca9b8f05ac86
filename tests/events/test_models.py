"""What real traffic does to the models: extra and missing fields, big ids, unknown types."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from qqbus.events import UnknownPayload, onebot, parse_event, qq

T = 1718000035  # a plausible event time (2024-06-10)
BAN = {
    "time": T,
    "self_id": 10,
    "post_type": "notice",
    "notice_type": "group_ban",
    "sub_type": "ban",
    "group_id": 3,
    "operator_id": 4,
    "user_id": 0,
}


def test_ids_are_64_bit_negative_or_above_int32() -> None:
    recall = parse_event(
        {
            "time": T,
            "self_id": 10,
            "post_type": "notice",
            "notice_type": "group_recall",
            "group_id": 2**40,
            "user_id": 1,
            "operator_id": 1,
            "message_id": -2147483649,
        }
    ).model
    assert isinstance(recall, onebot.GroupRecall)
    assert recall.message_id == -2147483649 and recall.group_id == 2**40
    with pytest.raises(ValidationError):
        onebot.FriendRecall.model_validate(
            {"time": T, "self_id": 1, "post_type": "notice", "notice_type": "friend_recall", "user_id": 2**63}
        )


def test_numeric_strings_are_accepted_for_ids() -> None:
    model = onebot.FriendAdd.model_validate(
        {"time": str(T), "self_id": "10", "post_type": "notice", "notice_type": "friend_add", "user_id": "5"}
    )
    assert (model.self_id, model.user_id) == (10, 5)


def test_extra_fields_are_kept() -> None:
    payload = {**BAN, "group_name": "测试群", "duration": 0, "nested": {"a": 1}}
    model = parse_event(payload).model
    assert isinstance(model, onebot.GroupBan)
    assert model.model_extra == {"group_name": "测试群", "nested": {"a": 1}}


def test_duration_defaults_to_zero_when_left_out() -> None:
    model = parse_event(BAN).model
    assert isinstance(model, onebot.GroupBan) and model.duration == 0


def test_sender_fields_are_best_effort() -> None:
    msg = {
        "time": T,
        "self_id": 1,
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "user_id": 2,
        "group_id": 3,
        "message": "x",
        "raw_message": "x",
        "sender": {"role": "owner", "x": 1},
    }
    model = parse_event(msg).model
    assert isinstance(model, onebot.GroupMessage)
    assert (
        model.sender.role == "owner"
        and model.sender.nickname is None
        and model.sender.model_extra == {"x": 1}
    )
    no_sender = parse_event({k: v for k, v in msg.items() if k != "sender"}).model
    assert isinstance(no_sender, onebot.GroupMessage) and no_sender.sender.user_id is None


def test_unknown_types_parse_to_the_base_and_keep_a_detail_type() -> None:
    poke = {
        "time": T,
        "self_id": 1,
        "post_type": "notice",
        "notice_type": "notify",
        "sub_type": "poke",
        "target_id": 1,
        "user_id": 2,
        "group_id": 3,
    }
    parsed = parse_event(poke)
    assert type(parsed.model) is onebot.NoticeEvent and parsed.detail_type == "notice.notify"
    sent = parse_event({"time": T, "self_id": 1, "post_type": "message_sent", "message_type": "group"})
    assert type(sent.model) is onebot.OneBotEvent and sent.detail_type == "message_sent.group"
    assert sent.model.detail_type == "message_sent.group"  # type: ignore[attr-defined]


def test_requests_and_meta_events_have_models() -> None:
    req = parse_event(
        {
            "time": T,
            "self_id": 1,
            "post_type": "request",
            "request_type": "group",
            "sub_type": "invite",
            "group_id": 3,
            "user_id": 2,
            "comment": "",
            "flag": "f",
        }
    )
    assert isinstance(req.model, onebot.GroupRequest) and req.detail_type == "request.group"
    life = parse_event(
        {
            "time": T,
            "self_id": 1,
            "post_type": "meta_event",
            "meta_event_type": "lifecycle",
            "sub_type": "connect",
        }
    )
    assert isinstance(life.model, onebot.Lifecycle) and life.detail_type == "meta_event.lifecycle"
    beat = parse_event(
        {
            "time": T,
            "self_id": 1,
            "post_type": "meta_event",
            "meta_event_type": "heartbeat",
            "status": {"online": True, "good": True},
            "interval": 5000,
        }
    )
    assert isinstance(beat.model, onebot.Heartbeat) and beat.model.interval == 5000


def test_a_known_type_with_a_missing_field_falls_back_and_says_why() -> None:
    parsed = parse_event({k: v for k, v in BAN.items() if k != "group_id"})
    assert type(parsed.model) is onebot.NoticeEvent
    assert parsed.detail_type == "notice.group_ban"
    assert parsed.problem and "group_id" in parsed.problem


@pytest.mark.parametrize(
    "payload, message",
    [
        ([1, 2], "JSON object"),
        ({"hello": 1}, "neither"),
        ({"post_type": 5, "self_id": 1, "time": 1}, "post_type"),
        ({"post_type": "notice", "notice_type": "x"}, "self_id"),
        ({"op": 0, "d": {}}, "not a dispatch"),
        ({"op": 11}, "op=11"),
    ],
)
def test_payloads_that_are_not_events_are_refused_clearly(payload: object, message: str) -> None:
    with pytest.raises(UnknownPayload, match=message):
        parse_event(payload)


def test_qq_timestamps_int_string_and_rfc3339() -> None:
    base = {
        "op": 0,
        "t": "GROUP_ADD_ROBOT",
        "id": "GROUP_ADD_ROBOT:1",
        "d": {"group_openid": "G", "op_member_openid": "M", "timestamp": 1699240248},
    }
    assert qq.parse_qq(base).d.timestamp == 1699240248  # type: ignore[attr-defined]
    as_text = {**base, "d": {**base["d"], "timestamp": "1699240248"}}
    assert qq.parse_qq(as_text).d.timestamp == 1699240248  # type: ignore[attr-defined]
    rfc = {**base, "d": {**base["d"], "timestamp": "2023-11-06T13:37:18+08:00"}}
    assert qq.parse_qq(rfc).d.timestamp == 1699249038  # type: ignore[attr-defined]


def test_qq_dispatch_with_unknown_type_parses_to_the_dispatch_base() -> None:
    parsed = parse_event(
        {
            "op": 0,
            "t": "INTERACTION_CREATE",
            "id": "INTERACTION_CREATE:1",
            "d": {"openid": "x", "timestamp": T},
        }
    )
    assert type(parsed.model) is qq.QQDispatch and parsed.detail_type == "INTERACTION_CREATE"


def test_qq_group_event_missing_group_openid_falls_back_with_a_problem() -> None:
    parsed = parse_event({"op": 0, "t": "GROUP_DEL_ROBOT", "id": "x", "d": {"timestamp": T}})
    assert type(parsed.model) is qq.QQDispatch
    assert parsed.problem and "group_openid" in parsed.problem
