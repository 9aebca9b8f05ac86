"""The whole OneBot v11 segment set through the OneBot sender, against the fake OneBot API over a
real socket: each segment is sent as built, a bad one is refused naming it (nothing sent),
forwards go as the forward actions, and ``delete_msg`` recalls."""

from __future__ import annotations

from typing import Any

import pytest
from qqbus.actions import Outbox, Segment
from qqbus_dev.fake_apis import FakeOneBotApi

from tests.conftest import BusTap
from tests.senders.conftest import Send, outbox, results

BOT = "123456789"
GROUP = 987654321


def box(function: str = "h") -> Outbox:
    return outbox(event_id="e1", detail_type="message.group", function=function, bot_id=BOT)


def seg(type_: str, **data: Any) -> Segment:
    return Segment(type=type_, data=data)


NODE = seg("node", user_id="10001", nickname="bot", content=[{"type": "text", "data": {"text": "hi"}}])

VALID = [
    seg("text", text="hello"),
    seg("face", id="14"),
    seg("image", file="https://example.com/a.png"),
    seg("record", file="base64://AAAA"),
    seg("video", file="https://example.com/a.mp4"),
    seg("file", file="https://example.com/a.pdf", name="a.pdf"),
    seg("at", qq="10001"),
    seg("at", qq="all"),
    seg("rps"),
    seg("dice"),
    seg("shake"),
    seg("poke", type="126", id="2003"),
    seg("poke", qq="10001"),
    seg("anonymous"),
    seg("share", url="https://example.com", title="Example", content="a page"),
    seg("contact", type="qq", id="10001"),
    seg("contact", type="group", id="100100"),
    seg("location", lat="39.8969426", lon="116.3109099", title="here"),
    seg("music", type="163", id="28949129"),
    seg("music", type="custom", url="https://m", audio="https://m.mp3", title="song"),
    seg("reply", id="-2147483000"),
    seg("forward", id="res123"),
    seg("xml", data="<?xml version='1.0'?><msg/>"),
    seg("json", data='{"app":"com.tencent.miniapp"}'),
]


@pytest.mark.parametrize(
    "segment", VALID, ids=lambda s: f"{s.type}-{'-'.join(map(str, s.data.values()))[:20]}"
)
def test_each_v11_segment_is_sent_as_built(
    onebot_send: Send, fake_onebot: FakeOneBotApi, event_bus: BusTap, segment: Segment
) -> None:
    assert onebot_send(box().call("send_group_msg", group_id=GROUP, message=[segment]))["status"] == "sent"
    (call,) = fake_onebot.calls()
    assert call.path == "/send_group_msg"
    assert call.body == {"group_id": GROUP, "message": [segment.model_dump()]}
    assert results(event_bus)[0]["outcome"] == "sent"


def test_json_given_as_an_object_is_sent_as_its_text(onebot_send: Send, fake_onebot: FakeOneBotApi) -> None:
    card = {"app": "com.tencent.miniapp", "meta": {"k": "值"}}
    onebot_send(box().call("send_private_msg", user_id=10001, message=[seg("json", data=card)]))
    (call,) = fake_onebot.calls()
    assert call.body["message"] == [
        {"type": "json", "data": {"data": '{"app":"com.tencent.miniapp","meta":{"k":"值"}}'}}
    ]


def test_a_message_of_nodes_goes_as_the_forward_action(
    onebot_send: Send, fake_onebot: FakeOneBotApi, event_bus: BusTap
) -> None:
    second = seg("node", id="123")
    onebot_send(box("g").call("send_group_msg", group_id=GROUP, message=[NODE, second]))
    onebot_send(box("p").call("send_private_msg", user_id=10001, message=[NODE]))
    onebot_send(box("f").call("send_group_forward_msg", group_id=GROUP, messages=[NODE.model_dump()]))
    group, private, direct = fake_onebot.calls()
    assert (group.path, group.body) == (
        "/send_group_forward_msg",
        {"group_id": GROUP, "messages": [NODE.model_dump(), second.model_dump()]},
    )
    assert (private.path, private.body) == (
        "/send_private_forward_msg",
        {"user_id": 10001, "messages": [NODE.model_dump()]},
    )
    assert (direct.path, direct.body) == (
        "/send_group_forward_msg",
        {"group_id": GROUP, "messages": [NODE.model_dump()]},
    )
    assert [r["action"] for r in results(event_bus)] == [
        "send_group_forward_msg",
        "send_private_forward_msg",
        "send_group_forward_msg",
    ]


def test_a_cq_string_is_checked_and_sent_as_a_string(
    onebot_send: Send, fake_onebot: FakeOneBotApi, event_bus: BusTap
) -> None:
    b = box()
    onebot_send(
        b.ask(
            "onebot",
            "send_msg",
            params={"message_type": "group", "group_id": GROUP, "message": "hi [CQ:face,id=14]"},
        )
    )
    onebot_send(
        b.ask(
            "onebot",
            "send_msg",
            params={"message_type": "group", "group_id": GROUP, "message": "[CQ:music,type=spotify,id=1]"},
        )
    )
    (call,) = fake_onebot.calls()
    assert call.body["message"] == "hi [CQ:face,id=14]"
    refused = results(event_bus)[1]
    assert refused["reason"] == "invalid_message" and "segment 0 (music)" in refused["message"]


def test_delete_msg_is_the_onebot_recall(
    onebot_send: Send, fake_onebot: FakeOneBotApi, event_bus: BusTap
) -> None:
    assert onebot_send(box().call("delete_msg", message_id=-2147483000))["status"] == "sent"
    (call,) = fake_onebot.calls()
    assert (call.path, call.body) == ("/delete_msg", {"message_id": -2147483000})


@pytest.mark.parametrize(
    "message, reason, named",
    [
        ([seg("markdown", content="# hi")], "unsupported_message", "segment 0 (markdown)"),
        ([seg("text", text="a"), seg("keyboard", id="k")], "unsupported_message", "segment 1 (keyboard)"),
        ([seg("ark", template_id=23)], "unsupported_message", "segment 0 (ark)"),
        ([seg("mface", id="1")], "unsupported_message", "segment 0 (mface)"),
        ([seg("text")], "invalid_message", "segment 0 (text)"),
        ([seg("image")], "invalid_message", "segment 0 (image)"),
        ([seg("at", qq="everyone")], "invalid_message", "segment 0 (at)"),
        ([seg("poke", type="126")], "invalid_message", "segment 0 (poke)"),
        ([seg("contact", type="channel", id="1")], "invalid_message", "segment 0 (contact)"),
        ([seg("location", lat="north", lon="1")], "invalid_message", "segment 0 (location)"),
        ([seg("music", type="spotify", id="1")], "invalid_message", "segment 0 (music)"),
        ([seg("music", type="custom", url="u", title="t")], "invalid_message", "audio"),
        ([seg("share", url="https://x")], "invalid_message", "title"),
        ([seg("xml", data="")], "invalid_message", "segment 0 (xml)"),
        ([seg("reply")], "invalid_message", "segment 0 (reply)"),
        ([seg("node", user_id="1", nickname="n")], "invalid_message", "segment 0 (node): needs content"),
        (
            [seg("node", user_id="1", nickname="n", content=[{"type": "keyboard", "data": {"id": "k"}}])],
            "unsupported_message",
            "segment 0 (node) content: segment 0 (keyboard)",
        ),
        ([NODE, seg("text", text="and text")], "invalid_message", "node segments"),
        ([], "empty_message", "empty"),
    ],
)
def test_a_bad_segment_is_refused_naming_it_and_nothing_is_sent(
    onebot_send: Send,
    fake_onebot: FakeOneBotApi,
    event_bus: BusTap,
    message: list[Segment],
    reason: str,
    named: str,
) -> None:
    action = box().ask(
        "onebot", "send_group_msg", params={"group_id": GROUP, "message": [s.model_dump() for s in message]}
    )
    assert onebot_send(action)["status"] == "failed"
    (result,) = results(event_bus)
    assert result["reason"] == reason and named in result["message"]
    assert fake_onebot.received == []
