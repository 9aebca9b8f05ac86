"""Every seed example, every shared sample and every events/ payload parses to the right model."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from qqbus.events import UnknownPayload, onebot, parse_event, qq

from tests.support import CONTRACT, EVENTS, SAMPLES, SEEDS, load_json

QQ_SEED = SEEDS / "000_41712bb99d3bd596.txt"
ONEBOT_SEED = SEEDS / "004_212e3a3054766574.txt"

SAMPLE_MODELS = {
    "onebot/group_increase__napcatdocs_basic_event.json": onebot.GroupIncrease,
    "onebot/group_message__nonebot-adapter-onebot_tests.json": onebot.GroupMessage,
    "onebot/group_message_array__napcatdocs_basic_event.json": onebot.GroupMessage,
    "onebot/private_message__nonebot-adapter-onebot_tests.json": onebot.PrivateMessage,
    "onebot/private_message__onebot-11-spec_http-post.json": onebot.PrivateMessage,
    "qq/official_c2c_message_create.json": qq.C2CMessageCreate,
    "qq/official_group_add_robot.json": qq.GroupAddRobot,
    "qq/official_group_at_message_create.json": qq.GroupAtMessageCreate,
    "qq/official_group_del_robot.json": qq.GroupDelRobot,
    "qq/official_group_msg_receive.json": qq.GroupMsgReceive,
    "qq/official_group_msg_reject.json": qq.GroupMsgReject,
}


def test_every_shared_sample_is_listed() -> None:
    on_disk = {str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*.json")}
    assert on_disk - {"qq/official_webhook_validation_op13.json"} == set(SAMPLE_MODELS)


#: nonebot's own test fixtures say ``"time": 0``: no real event is that old, so the models refuse
#: it (the event still reaches the bus, as the base model, and its handler reports it).
TIME_ZERO_FIXTURES = {
    "onebot/group_message__nonebot-adapter-onebot_tests.json",
    "onebot/private_message__nonebot-adapter-onebot_tests.json",
}


@pytest.mark.parametrize("name", sorted(SAMPLE_MODELS))
def test_shared_sample_parses_to_its_model(name: str) -> None:
    payload = load_json(SAMPLES / name)
    parsed = parse_event(payload)
    if name in TIME_ZERO_FIXTURES:
        assert type(parsed.model) is onebot.OneBotEvent
        assert parsed.problem and "time: Value error, event time 0 is before 2010-01-01" in parsed.problem
        parsed = parse_event({**payload, "time": 1718000000})
    assert type(parsed.model) is SAMPLE_MODELS[name]
    assert parsed.problem is None
    expected_source = "qq.official" if name.startswith("qq/") else "onebot.v11"
    assert parsed.source == expected_source


def test_op13_sample_is_a_url_validation_not_an_event() -> None:
    payload = load_json(SAMPLES / "qq/official_webhook_validation_op13.json")
    model = qq.parse_qq(payload)
    assert isinstance(model, qq.UrlValidation)
    assert model.d.plain_token == "Arq0D5A61EgUu4OxUvOp" and model.d.event_ts == "1725442341"
    with pytest.raises(UnknownPayload, match="op=13"):
        parse_event(payload)


def _qq_seed_examples() -> list[dict[str, Any]]:
    text = QQ_SEED.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\s*(.*?)```", text, re.S)]


def test_qq_seed_examples_parse_to_their_models() -> None:
    examples = _qq_seed_examples()
    assert [e["t"] for e in examples] == [
        "GROUP_ADD_ROBOT",
        "GROUP_DEL_ROBOT",
        "GROUP_MSG_REJECT",
        "GROUP_MSG_RECEIVE",
    ]
    for example in examples:
        parsed = parse_event(example)
        assert parsed.detail_type == example["t"]
        model = parsed.model
        assert (
            isinstance(model, qq.QQDispatch)
            and type(model).__name__
            == {
                "GROUP_ADD_ROBOT": "GroupAddRobot",
                "GROUP_DEL_ROBOT": "GroupDelRobot",
                "GROUP_MSG_REJECT": "GroupMsgReject",
                "GROUP_MSG_RECEIVE": "GroupMsgReceive",
            }[example["t"]]
        )
        d = model.d  # type: ignore[attr-defined]
        assert (d.group_openid, d.op_member_openid, d.timestamp) == (
            example["d"]["group_openid"],
            example["d"]["op_member_openid"],
            example["d"]["timestamp"],
        )


# --- the OneBot seed documents fields in tables: build a payload from each table -----------

ONEBOT_SECTIONS = {
    "私聊消息": onebot.PrivateMessage,
    "群消息": onebot.GroupMessage,
    "群文件上传": onebot.GroupUpload,
    "群管理员变动": onebot.GroupAdmin,
    "群成员减少": onebot.GroupDecrease,
    "群成员增加": onebot.GroupIncrease,
    "群禁言": onebot.GroupBan,
    "好友添加": onebot.FriendAdd,
    "群消息撤回": onebot.GroupRecall,
    "好友消息撤回": onebot.FriendRecall,
}
ROW = re.compile(r"^\|\s*`(\w+)`\s*\|\s*([^|]+?)\s*\|(.*)\|\s*$")


def _tables() -> dict[str, list[list[tuple[str, str, str]]]]:
    sections: dict[str, list[list[tuple[str, str, str]]]] = {}
    title = None
    in_table = False
    for line in ONEBOT_SEED.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            title, in_table = line[3:].strip(), False
            sections[title] = []
            continue
        m = ROW.match(line)
        if title and m:
            if not in_table:
                sections[title].append([])
                in_table = True
            sections[title][-1].append((m.group(1), m.group(2).strip(), m.group(3)))
        elif not line.startswith("|"):
            in_table = False
    return sections


#: Numbers the tables cannot give: a plausible time, a bot that is not the member acted on,
#: and a mute within QQ's 30 days.
SEED_NUMBERS = {"time": 1718000035, "self_id": 10001, "duration": 600}


def _value(field: str, type_: str, rest: str) -> Any:
    possible = re.findall(r"`([^`]+)`", rest.split("|")[0]) if rest.count("|") >= 1 else []
    if possible:
        return possible[0]
    if field in SEED_NUMBERS and type_.startswith("number"):
        return SEED_NUMBERS[field]
    if type_.startswith("number"):
        return 1234567890123 if "int64" in type_ else 42
    if type_ == "message":
        return "hi &amp; [CQ:face,id=178]"
    if type_ == "object":
        return {}
    return f"{field}-value"


def _optional(rest: str) -> bool:
    return "先驱暂时不实现" in rest


def _payload(tables: list[list[tuple[str, str, str]]]) -> tuple[dict[str, Any], set[str]]:
    """A payload with every documented field; also the top-level fields marked optional."""
    main, *nested = tables
    payload = {f: _value(f, t, r) for f, t, r in main}
    optional = {f for f, _, r in main if _optional(r)}
    for table in nested:  # sender / anonymous / file: which object, by their fields
        names = {f for f, _, _ in table}
        target = "file" if "busid" in names else "anonymous" if "flag" in names else "sender"
        payload[target] = {f: _value(f, t, r) for f, t, r in table}
    return payload, optional


@pytest.mark.parametrize("section", sorted(ONEBOT_SECTIONS))
def test_onebot_seed_tables_parse_with_every_field(section: str) -> None:
    tables = _tables()[section]
    payload, optional = _payload(tables)
    model_cls = ONEBOT_SECTIONS[section]
    parsed = parse_event(payload)
    assert type(parsed.model) is model_cls, parsed.problem
    model = parsed.model
    for field in payload:
        assert field in model_cls.model_fields, f"{model_cls.__name__} lacks documented field {field!r}"
        assert getattr(model, field) is not None
    # Fields an implementation may leave out ("先驱暂时不实现") are optional.
    trimmed = {k: v for k, v in payload.items() if k not in optional}
    for nested in ("sender", "anonymous", "file"):
        if nested in trimmed and nested != "file":
            trimmed[nested] = {}
    trimmed_model = parse_event(trimmed).model
    assert type(trimmed_model) is model_cls
    # The file name is the one file field the spec requires; sender fields are best effort.
    if "file" in trimmed:
        assert trimmed_model.file.name == payload["file"]["name"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_events_payload_parses_to_its_handlers_type(name: str) -> None:
    event = load_json(EVENTS / f"{name}.json")
    source, detail_type = CONTRACT[name]
    assert (event["source"], event["detail-type"]) == (source, detail_type)
    parsed = parse_event(event["detail"]["payload"])
    assert (parsed.source, parsed.detail_type, parsed.problem) == (source, detail_type, None)
    assert set(event) >= {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert set(event["detail"]) == {"bot_id", "event_id", "transport", "received_at", "payload"}
