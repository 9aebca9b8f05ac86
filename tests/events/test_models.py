"""What real traffic does to the models: extra and missing fields, big ids, unknown types."""

from __future__ import annotations

from typing import Any

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
    like = {  # NapCat's emoji reactions: no model (yet)
        "time": T,
        "self_id": 1,
        "post_type": "notice",
        "notice_type": "group_msg_emoji_like",
        "message_id": 4,
        "user_id": 2,
        "group_id": 3,
    }
    parsed = parse_event(like)
    assert type(parsed.model) is onebot.NoticeEvent and parsed.detail_type == "notice.group_msg_emoji_like"
    odd = parse_event({**like, "notice_type": "notify", "sub_type": "something_new"})
    assert type(odd.model) is onebot.Notify and odd.detail_type == "notice.notify"
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


NOTIFY = {"time": T, "self_id": 1, "post_type": "notice", "notice_type": "notify"}


@pytest.mark.parametrize(
    "payload, model, fields",
    [
        (
            {**NOTIFY, "sub_type": "poke", "group_id": 3, "user_id": 2, "target_id": 1},
            "Poke",
            {"group_id": 3},
        ),
        (
            {**NOTIFY, "sub_type": "poke", "user_id": 2, "target_id": 1, "sender_id": 2},
            "Poke",
            {"group_id": None},
        ),
        (
            {**NOTIFY, "sub_type": "lucky_king", "group_id": 3, "user_id": 2, "target_id": 5},
            "LuckyKing",
            {"target_id": 5},
        ),
        (
            {**NOTIFY, "sub_type": "honor", "group_id": 3, "user_id": 2, "honor_type": "talkative"},
            "Honor",
            {"honor_type": "talkative"},
        ),
        (
            {**NOTIFY, "sub_type": "title", "group_id": 3, "user_id": 2, "title": "龙王"},
            "Title",
            {"title": "龙王"},
        ),
        (
            {**NOTIFY, "notice_type": "group_card", "group_id": 3, "user_id": 2, "card_new": "a"},
            "GroupCard",
            {"card_old": ""},
        ),
        (
            {**NOTIFY, "notice_type": "offline_file", "user_id": 2, "file": {"name": "a.txt", "size": 3}},
            "OfflineFile",
            {"user_id": 2},
        ),
        (
            {**NOTIFY, "notice_type": "client_status", "client": {"app_id": 1}, "online": True},
            "ClientStatus",
            {"online": True},
        ),
        (
            {
                **NOTIFY,
                "notice_type": "essence",
                "sub_type": "add",
                "group_id": 3,
                "sender_id": 2,
                "operator_id": 4,
                "message_id": -7,
            },
            "Essence",
            {"message_id": -7},
        ),
    ],
)
def test_common_notices_have_models_and_keep_extra_fields(
    payload: dict[str, Any], model: str, fields: dict[str, Any]
) -> None:
    parsed = parse_event({**payload, "raw_info": [{"x": 1}]})
    assert type(parsed.model).__name__ == model and parsed.problem is None
    assert {k: getattr(parsed.model, k) for k in fields} == fields
    assert parsed.model.model_extra == {"raw_info": [{"x": 1}]}
    broken = parse_event({k: v for k, v in payload.items() if k not in ("user_id", "online", "sender_id")})
    assert type(broken.model).__name__ != model and broken.problem  # reported, not crashed


def test_a_private_poke_is_answered_privately_and_a_group_poke_in_the_group() -> None:
    private = parse_event({**NOTIFY, "sub_type": "poke", "user_id": 2, "target_id": 1}).model
    group = parse_event({**NOTIFY, "sub_type": "poke", "group_id": 3, "user_id": 2, "target_id": 1}).model
    assert (private.chat().group_id, private.chat().user_id) == (None, "2")  # type: ignore[attr-defined]
    assert (group.chat().group_id, group.chat().user_id) == ("3", "2")  # type: ignore[attr-defined]
