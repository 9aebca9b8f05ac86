"""A button click end to end on moto: INTERACTION_CREATE -> qq_interaction_create (ack + the
button's data as the user's command) -> actions on the bus -> qq_sender -> the fake QQ OpenAPI
over a real socket."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from qqbus.actions import Action
from qqbus.events.qq import InteractionCreate, parse_intents, parse_qq
from qqbus_dev.fake_apis import FakeQQApi
from qqbus_dev.lambda_context import LocalContext

from tests.conftest import BusTap
from tests.senders.conftest import Send, results
from tests.support import event_file, load_handler

GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
MEMBER = "E4F4AEA33253A2797FB897C50B81D7ED"


def click(button_data: str = "/ping", **d: Any) -> dict[str, Any]:
    event = copy.deepcopy(event_file("qq_interaction_create"))
    payload = event["detail"]["payload"]
    payload["d"]["data"]["resolved"]["button_data"] = button_data
    payload["d"]["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    payload["d"].update(d)
    for key, value in list(payload["d"].items()):
        if value is None:
            del payload["d"][key]
    return event


def run(event: dict[str, Any], event_bus: BusTap) -> list[Action]:
    """Run the handler on ``event``; the actions it put on the bus."""
    load_handler("qq_interaction_create").lambda_handler(
        event, LocalContext(function_name="qq_interaction_create")
    )
    return [Action.model_validate(e["detail"]) for e in event_bus.published("qqbus.action")]


def test_a_click_is_acknowledged_and_its_data_runs_as_the_users_command(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    event = click("/ping")
    envelope = event["detail"]["payload"]
    ack, pong = run(event, event_bus)
    assert (ack.detail_type, ack.params) == (
        "qq.ack_interaction",
        {"interaction_id": envelope["d"]["id"], "code": 0},
    )
    assert (pong.detail_type, pong.target.group_id, pong.text) == ("qq.group_message", GROUP, "pong")
    assert qq_send(ack)["status"] == "sent" and qq_send(pong)["status"] == "sent"
    (put,) = fake_qq.interaction_acks()
    assert (put.path, put.body) == (f"/interactions/{envelope['d']['id']}", {"code": 0})
    (message,) = fake_qq.messages()
    assert message.path == f"/v2/groups/{GROUP}/messages"
    # answered by citing the interaction event, as nonebot-adapter-qq does
    assert message.body == {"content": "pong", "msg_type": 0, "event_id": envelope["id"], "msg_seq": 1}
    assert [r["outcome"] for r in results(event_bus)] == ["sent", "sent"]


def test_a_c2c_click_answers_the_user(qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap) -> None:
    event = click(
        "/echo hi there",
        chat_type=2,
        scene="c2c",
        group_openid=None,
        group_member_openid=None,
        user_openid="U1",
    )
    ack, echo = run(event, event_bus)
    assert echo.target.user_id == "U1" and echo.text == "hi there"
    qq_send(ack)
    qq_send(echo)
    (message,) = fake_qq.messages()
    assert message.path == "/v2/users/U1/messages" and message.body["content"] == "hi there"


def test_a_button_that_is_no_command_is_still_acknowledged(
    event_bus: BusTap, aws_tables: dict[str, str]
) -> None:
    (ack,) = run(click("just data"), event_bus)
    assert ack.action == "ack_interaction"


def test_a_guild_click_is_acknowledged_with_nowhere_to_answer(
    event_bus: BusTap, aws_tables: dict[str, str]
) -> None:
    event = click(
        "/ping", chat_type=0, scene="guild", group_openid=None, group_member_openid=None, guild_id="G1"
    )
    (ack,) = run(event, event_bus)
    assert ack.action == "ack_interaction"


def test_the_model_takes_what_a_real_click_leaves_out_or_adds() -> None:
    bare = parse_qq({"op": 0, "t": "INTERACTION_CREATE", "d": {"id": "i1", "future": {"x": 1}}})
    assert isinstance(bare, InteractionCreate)
    assert bare.d.button_data == "" and bare.chat() is None and bare.d.timestamp is None
    full = parse_qq(event_file("qq_interaction_create")["detail"]["payload"])
    assert isinstance(full, InteractionCreate)
    chat = full.chat()
    assert chat is not None and (chat.group_id, chat.user_id) == (GROUP, MEMBER)
    assert chat.event_id == full.id and chat.time == 1718000010  # 2024-06-10T14:13:30+08:00


@pytest.mark.parametrize(
    "text, intents",
    [
        ("", 1 << 25),
        ("GROUP_AND_C2C_EVENT,INTERACTION", (1 << 25) | (1 << 26)),
        ("interaction", 1 << 26),
        ("33554432", 1 << 25),
    ],
)
def test_relay_intents_are_configurable(text: str, intents: int) -> None:
    assert parse_intents(text) == intents


def test_an_unknown_intent_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown QQ intent"):
        parse_intents("GUILDS")


def test_a_click_is_answered_in_a_group_that_refuses_proactive_messages(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, aws_tables: dict[str, str]
) -> None:
    """The answer to a click is the clicker's request, not a proactive post: GROUP_MSG_REJECT
    (which refuses posts citing GROUP_ADD_ROBOT) does not refuse it."""
    from qqbus.state import DynamoGroupStore

    store = DynamoGroupStore(aws_tables["GroupsTable"])
    now = int(time.time())
    store.write("102000001", GROUP, "qq", store.member(True, at=now - 60))
    store.write("102000001", GROUP, "qq", store.proactive(False, at=now + 2))  # after the click
    _ack, pong = run(click("/ping"), event_bus)
    assert qq_send(pong)["status"] == "sent"
    assert fake_qq.messages()[0].body["event_id"].startswith("INTERACTION_CREATE:")


@pytest.mark.parametrize(
    "argv, env, intents",
    [
        ([], "", 1 << 25),
        ([], "GROUP_AND_C2C_EVENT,INTERACTION", (1 << 25) | (1 << 26)),
        (["--intents", "INTERACTION"], "", 1 << 26),
        (["--intents", str(1 << 25)], "INTERACTION", 1 << 25),
    ],
)
def test_the_relay_cli_takes_intents_by_name_or_from_qq_intents(
    argv: list[str], env: str, intents: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qqbus_dev.cli import build_parser

    monkeypatch.setenv("QQ_INTENTS", env)
    args = build_parser().parse_args(["relay", "qq", *argv])
    assert args.intents == intents
