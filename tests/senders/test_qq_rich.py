"""Rich QQ messages on moto, against the fake QQ OpenAPI over a real socket: markdown, keyboards,
ark, media by URL and by bytes, quotes, recall, interaction acks, the media cache and refusals.

The bodies asserted are the ones nonebot-adapter-qq and botpy send for the same messages (less
nonebot's ``timestamp``, which QQ does not need)."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from qqbus.actions import Action, Segment, Target
from qqbus.events.message import button
from qqbus.events.qq import GroupAtMessageCreate
from qqbus_dev.fake_apis import FakeQQApi

from tests.conftest import BusTap
from tests.senders.conftest import Send, outbox, results
from tests.support import SAMPLES, event_file, load_json

GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def group_message(
    msg_id: str | None = None, age: int = 5, ext: list[str] | None = None
) -> GroupAtMessageCreate:
    """The sample group @-message, ``age`` seconds old; ``ext``: its ``message_scene.ext``."""
    raw = load_json(SAMPLES / "qq" / "official_group_at_message_create.json")
    raw["d"]["timestamp"] = int(time.time()) - age
    if msg_id:
        raw["d"]["id"] = msg_id
    if ext is not None:
        raw["d"]["message_scene"] = {"source": "default", "ext": ext}
    return GroupAtMessageCreate.model_validate(raw)


def reply(message: Any, index: int = 0, msg_id: str | None = None) -> Action:
    return outbox(function=f"f{index}").reply(group_message(msg_id), message)


def sent_body(fake_qq: FakeQQApi) -> dict[str, Any]:
    (request,) = fake_qq.messages()
    assert request.path == f"/v2/groups/{GROUP}/messages"
    body: dict[str, Any] = request.body
    return body


def test_native_markdown_is_msg_type_2(qq_send: Send, fake_qq: FakeQQApi) -> None:
    message = group_message()
    action = outbox().reply(message, Segment.markdown("# hello\n**bold**"))
    assert qq_send(action)["status"] == "sent"
    assert sent_body(fake_qq) == {
        "msg_type": 2,
        "markdown": {"content": "# hello\n**bold**"},
        "msg_id": message.d.id,
        "msg_seq": 1,
    }


def test_template_markdown_with_a_template_keyboard(qq_send: Send, fake_qq: FakeQQApi) -> None:
    segments = [
        Segment.markdown(custom_template_id="101_tpl", params={"title": "hi", "items": ["a", "b"]}),
        Segment.keyboard("kb_1"),
    ]
    assert qq_send(reply(segments))["status"] == "sent"
    body = sent_body(fake_qq)
    assert body["msg_type"] == 2 and "content" not in body
    assert body["markdown"] == {
        "custom_template_id": "101_tpl",
        "params": [{"key": "title", "values": ["hi"]}, {"key": "items", "values": ["a", "b"]}],
    }
    assert body["keyboard"] == {"id": "kb_1"}


def test_a_keyboard_of_buttons_goes_as_qq_shapes_it(qq_send: Send, fake_qq: FakeQQApi) -> None:
    rows = [
        [button("ping", "/ping"), button("help", "/help", action=2, enter=True)],
        [button("docs", "https://q.qq.com", action=0, style=0)],
    ]
    assert qq_send(reply([Segment.markdown("pick one"), Segment.keyboard(rows=rows)]))["status"] == "sent"
    keyboard = sent_body(fake_qq)["keyboard"]
    assert [[b["action"]["data"] for b in r["buttons"]] for r in keyboard["content"]["rows"]] == [
        ["/ping", "/help"],
        ["https://q.qq.com"],
    ]
    first = keyboard["content"]["rows"][0]["buttons"][0]
    assert first == {
        "id": "ping",
        "render_data": {"label": "ping", "visited_label": "ping", "style": 1},
        "action": {
            "type": 1,
            "permission": {"type": 2},
            "data": "/ping",
            "unsupport_tips": "this QQ version cannot show buttons",
        },
    }
    assert keyboard["content"]["rows"][0]["buttons"][1]["action"]["enter"] is True


def test_ark_is_msg_type_3(qq_send: Send, fake_qq: FakeQQApi) -> None:
    kv = [{"key": "#DESC#", "value": "a link"}, {"key": "#PROMPT#", "value": "news"}]
    assert qq_send(reply(Segment.ark(23, kv)))["status"] == "sent"
    body = sent_body(fake_qq)
    assert (body["msg_type"], body["ark"]) == (3, {"template_id": 23, "kv": kv})
    assert "content" not in body


@pytest.mark.parametrize(
    "segment, file_type",
    [
        (Segment.image("https://example.com/a.png"), 1),
        (Segment.video("https://example.com/a.mp4"), 2),
        (Segment.record("https://example.com/a.silk"), 3),
        (Segment.file("https://example.com/a.pdf"), 4),
    ],
)
def test_media_by_url_upload_with_their_file_type_then_send_as_msg_type_7(
    qq_send: Send, fake_qq: FakeQQApi, segment: Segment, file_type: int
) -> None:
    assert qq_send(reply(segment))["status"] == "sent"
    (upload,) = fake_qq.uploads()
    assert upload.path == f"/v2/groups/{GROUP}/files"
    assert upload.body == {"file_type": file_type, "url": segment.data["file"], "srv_send_msg": False}
    body = sent_body(fake_qq)
    assert body["msg_type"] == 7 and body["content"] == " "
    assert body["media"] == {"file_info": upload.answer["file_info"]}
    assert "msg_seq" not in upload.body  # the upload is no message: no reply slot


def test_media_by_bytes_send_file_data_and_text_goes_with_them(qq_send: Send, fake_qq: FakeQQApi) -> None:
    assert qq_send(reply(["a picture: ", Segment.image(PNG)]))["status"] == "sent"
    (upload,) = fake_qq.uploads()
    assert upload.body == {
        "file_type": 1,
        "file_data": base64.b64encode(PNG).decode(),
        "srv_send_msg": False,
    }
    body = sent_body(fake_qq)
    assert (body["msg_type"], body["content"]) == (7, "a picture: ")


def test_c2c_media_upload_to_the_users_files(qq_send: Send, fake_qq: FakeQQApi) -> None:
    from qqbus.events.qq import C2CMessageCreate

    raw = load_json(SAMPLES / "qq" / "official_c2c_message_create.json")
    raw["d"]["timestamp"] = int(time.time()) - 5
    message = C2CMessageCreate.model_validate(raw)
    assert qq_send(outbox().reply(message, Segment.record(b"#!SILK_V3")))["status"] == "sent"
    (upload,) = fake_qq.uploads()
    assert upload.path == f"/v2/users/{message.d.author.user_openid}/files"
    assert upload.body["file_type"] == 3
    (request,) = fake_qq.messages()
    assert request.path == f"/v2/users/{message.d.author.user_openid}/messages"


def test_a_quote_is_a_message_reference(qq_send: Send, fake_qq: FakeQQApi) -> None:
    assert qq_send(reply([Segment.reply("REFIDX_abc"), "quoted"]))["status"] == "sent"
    body = sent_body(fake_qq)
    assert body["message_reference"] == {"message_id": "REFIDX_abc"}
    assert (body["msg_type"], body["content"]) == (0, "quoted")


def test_quote_true_cites_the_message_answered(qq_send: Send, fake_qq: FakeQQApi) -> None:
    """``ev.reply(..., quote=True)`` on QQ: the passive reply (msg_id) also quotes the message."""
    message = group_message(msg_id="ROBOT1.0_quoted")
    action = outbox().reply(message, "quoted", quote=True)
    assert action.message is not None and action.message[0].type == "reply"
    assert qq_send(action)["status"] == "sent"
    body = sent_body(fake_qq)
    assert body["message_reference"] == {"message_id": "ROBOT1.0_quoted"}
    assert body["msg_id"] == "ROBOT1.0_quoted" and body["content"] == "quoted"
    again = outbox(function="other").reply(message, [Segment.reply("REFIDX_x"), "mine"], quote=True)
    assert [s.type for s in again.message or []] == ["reply", "text"]  # one quote: the caller's


# What the message carries in message_scene.ext: the index quoted, its own index, a token.
EXT = ["ref_msg_idx=REFIDX_earlier", "msg_idx=REFIDX_CJ8ICBAYASDq", "auth_token=secret"]


def test_quote_true_cites_the_msg_idx_as_nonebot_adapter_qq_does(qq_send: Send, fake_qq: FakeQQApi) -> None:
    """A message with ``msg_idx=REFIDX_...`` in ``message_scene.ext`` is quoted by that index,
    not by its id: nonebot-adapter-qq's body for ``send(event, reference(event.id) + "quoted")``
    (less its ``timestamp``); botpy sends the same ``message_reference`` it is given."""
    message = group_message(msg_id="ROBOT1.0_quoted", ext=EXT)
    assert qq_send(outbox().reply(message, "quoted", quote=True))["status"] == "sent"
    assert sent_body(fake_qq) == {
        "content": "quoted",
        "msg_type": 0,
        "message_reference": {"message_id": "REFIDX_CJ8ICBAYASDq"},
        "msg_id": "ROBOT1.0_quoted",
        "msg_seq": 1,
    }


@pytest.mark.parametrize(
    "quoted, cited",
    [
        ("ROBOT1.0_quoted", "REFIDX_CJ8ICBAYASDq"),  # the message answered, by id: its index
        ("REFIDX_other", "REFIDX_other"),  # another message, by index: as given
        ("ROBOT1.0_another", "ROBOT1.0_another"),  # another message, by id: as given
    ],
)
def test_a_reply_segment_with_the_answered_messages_id_cites_its_index(quoted: str, cited: str) -> None:
    message = group_message(msg_id="ROBOT1.0_quoted", ext=EXT)
    action = outbox().reply(message, [Segment.reply(quoted), "x"])
    assert action.message is not None and action.message[0].data == {"id": cited}
    assert action.reply_to is not None and action.reply_to.quote_id == "REFIDX_CJ8ICBAYASDq"


def test_without_a_msg_idx_the_quote_cites_the_id_and_onebot_is_untouched() -> None:
    for ext in (None, [], ["ref_msg_idx=REFIDX_earlier", "msg_idx="]):
        action = outbox().reply(group_message(msg_id="ROBOT1.0_q", ext=ext), "x", quote=True)
        assert action.message is not None and action.message[0].data == {"id": "ROBOT1.0_q"}
        assert action.reply_to is not None and action.reply_to.quote_id is None
    from qqbus.events.onebot import GroupMessage

    raw = event_file("onebot_group_message")["detail"]["payload"]
    onebot = outbox(detail_type="message.group").reply(GroupMessage.model_validate(raw), "x", quote=True)
    assert onebot.reply_to is not None and onebot.reply_to.quote_id is None
    assert onebot.message is not None and onebot.message[0].type == "reply"


def test_a_continuation_keeps_the_index_to_quote(qq_send: Send, fake_qq: FakeQQApi) -> None:
    """A step answering later (``reply_in`` with the stored conversation) quotes by index too."""
    from qqbus.actions import Conversation, ReplyTo

    message = group_message(msg_id="ROBOT1.0_quoted", ext=EXT)
    first = outbox().reply(message, "one")
    assert first.reply_to is not None
    stored = ReplyTo.model_validate_json(first.reply_to.model_dump_json())
    conv = Conversation("qq", GROUP, None, stored)
    assert qq_send(outbox(function="step").reply_in(conv, "later", quote=True))["status"] == "sent"
    assert sent_body(fake_qq)["message_reference"] == {"message_id": "REFIDX_CJ8ICBAYASDq"}


def test_a_media_reply_takes_one_slot_like_a_message(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    assert qq_send(reply(Segment.image("https://example.com/a.png"), index=0))["status"] == "sent"
    assert qq_send(reply("text", index=1))["status"] == "sent"
    assert [r.body["msg_seq"] for r in fake_qq.messages()] == [1, 2]
    assert [r["msg_seq"] for r in results(event_bus)] == [1, 2]


def test_the_same_medium_is_uploaded_once_within_its_ttl(qq_send: Send, fake_qq: FakeQQApi) -> None:
    image = Segment.image("https://example.com/same.png")
    assert qq_send(reply(image, index=0))["status"] == "sent"
    assert qq_send(reply(["again", image], index=1))["status"] == "sent"
    assert len(fake_qq.uploads()) == 1
    first, second = fake_qq.messages()
    assert first.body["media"] == second.body["media"]
    # another chat gets its own upload: a file_info belongs to its group
    box = outbox(function="other")
    other = box.ask("qq", "group_message", target=Target(group_id="OTHER"), message=[image])
    qq_send(other)  # refused (no state for OTHER) before any upload
    assert len(fake_qq.uploads()) == 1


def test_a_retried_send_does_not_upload_again(
    qq_send: Send, fake_qq: FakeQQApi, aws_tables: dict[str, str]
) -> None:
    """The upload went through, the message kept failing: Lambda runs the send again (in another
    container: the process cache is gone), and the file_info comes from the actions table."""
    from qqbus import aws
    from qqbus.senders import qq_media

    action = reply(Segment.video(b"\x00\x00\x00\x18ftypmp42"))
    original = fake_qq.answer

    def upload_then_fail(path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if path.endswith("/messages"):
            return 503, {"code": 503, "message": "busy"}
        return original(path, headers, body)

    fake_qq.answer = upload_then_fail  # type: ignore[method-assign]
    with pytest.raises(Exception, match="gave up"):
        qq_send(action)
    assert len(fake_qq.uploads()) == 1
    fake_qq.answer = original  # type: ignore[method-assign]
    qq_media.media_cache().local.entries.clear()  # type: ignore[attr-defined]
    aws.reset()
    assert qq_send(action)["status"] == "sent"
    assert len(fake_qq.uploads()) == 1
    assert fake_qq.messages()[0].body["media"]["file_info"] == fake_qq.uploads()[0].answer["file_info"]


def test_a_file_info_about_to_expire_is_uploaded_again(qq_send: Send, fake_qq: FakeQQApi) -> None:
    fake_qq.file_ttl = 30  # inside the margin: not worth keeping
    image = Segment.image("https://example.com/short.png")
    qq_send(reply(image, index=0))
    qq_send(reply(image, index=1))
    assert len(fake_qq.uploads()) == 2


def test_recall_deletes_the_message_in_its_group_or_c2c(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    assert qq_send(reply("oops"))["status"] == "sent"
    message_id = results(event_bus)[0]["platform_message_id"]
    box = outbox(function="undo")
    recall = box.ask("qq", "recall", target=Target(group_id=GROUP), params={"message_id": message_id})
    assert qq_send(recall)["status"] == "sent"
    (request,) = fake_qq.recalls()
    assert (request.method, request.path) == ("DELETE", f"/v2/groups/{GROUP}/messages/{message_id}")
    assert request.headers["authorization"].startswith("QQBot ")
    (result,) = results(event_bus)
    assert (result["outcome"], result["action"], result["mode"]) == ("sent", "recall", "direct")
    # a message that is not there (recalled already): QQ's error, failed
    again = box.ask("qq", "recall", target=Target(user_id="U1"), params={"message_id": "nope"})
    assert qq_send(again)["status"] == "failed"
    assert fake_qq.received[-1].path == "/v2/users/U1/messages/nope"
    assert results(event_bus)[0]["code"] == 40034025


def test_recall_without_a_message_id_or_target_fails_without_a_request(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    box = outbox(function="undo")
    qq_send(box.ask("qq", "recall", target=Target(group_id=GROUP)))
    qq_send(box.ask("qq", "recall", params={"message_id": "m"}))
    assert [r["reason"] for r in results(event_bus)] == ["bad_params", "bad_params"]
    assert fake_qq.received == []


def test_an_interaction_ack_is_a_put_with_code_0(qq_send: Send, fake_qq: FakeQQApi) -> None:
    box = outbox(function="click", detail_type="INTERACTION_CREATE")
    assert qq_send(box.ask("qq", "ack_interaction", params={"interaction_id": "i-123"}))["status"] == "sent"
    (ack,) = fake_qq.interaction_acks()
    assert (ack.method, ack.path, ack.body) == ("PUT", "/interactions/i-123", {"code": 0})


@pytest.mark.parametrize(
    "message, reason, named",
    [
        ([Segment.face(1)], "unsupported_message", "(face)"),
        ([Segment(type="poke", data={"type": 1, "id": 1})], "unsupported_message", "(poke)"),
        ([Segment.at("all")], "unsupported_message", "(at)"),
        (
            [Segment.image("https://x/a.png"), Segment.image("https://x/b.png")],
            "unsupported_message",
            "one medium",
        ),
        (["text", Segment.markdown("# md")], "unsupported_message", "markdown"),
        ([Segment.markdown("# md"), Segment.image("https://x/a.png")], "unsupported_message", "medium"),
        ([Segment.ark(1, []), "text"], "unsupported_message", "ark"),
        ([Segment.image("/tmp/a.png")], "invalid_message", "segment 0 (image)"),
        ([Segment.image("base64://not base64!")], "invalid_message", "segment 0 (image)"),
        ([Segment(type="markdown", data={})], "invalid_message", "segment 0 (markdown)"),
        (
            [Segment.markdown("m"), Segment.keyboard(rows=[[{"render_data": {"label": "x"}}]])],
            "invalid_message",
            "segment 1 (keyboard)",
        ),
        ([Segment.keyboard(rows=[[button(str(i), "/x")] for i in range(6)])], "invalid_message", "rows"),
        ([Segment(type="ark", data={"template_id": "x"})], "invalid_message", "segment 0 (ark)"),
        ([Segment(type="reply", data={})], "invalid_message", "segment 0 (reply)"),
    ],
)
def test_what_qq_cannot_carry_is_refused_naming_it_before_any_request(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, message: list[Any], reason: str, named: str
) -> None:
    assert qq_send(reply(message))["status"] == "failed"
    (result,) = results(event_bus)
    assert result["reason"] == reason and named in result["message"]
    assert fake_qq.received == []  # nothing half-built: not even an upload or a token


def test_a_failed_upload_fails_the_send_and_sends_no_message(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    fake_qq.fail_next(400, {"code": 850026, "message": "url not reachable"})
    assert qq_send(reply(Segment.image("https://example.com/gone.png")))["status"] == "failed"
    (result,) = results(event_bus)
    assert result["code"] == 850026 and result["message"] == "media upload: url not reachable"
    assert fake_qq.messages() == []


def test_the_fake_refuses_bodies_that_do_not_fit_their_msg_type(fake_qq: FakeQQApi) -> None:
    """The fake checks what the sender relies on, so the tests above can fail."""
    assert fake_qq._body_problem({"msg_type": 7, "media": {"file_info": "made-up"}}) is not None
    assert fake_qq._body_problem({"msg_type": 2, "content": "x"}) is not None
    assert fake_qq._body_problem({"msg_type": 3}) is not None
    assert fake_qq._body_problem({"msg_type": 0, "content": "x"}) is None


def test_what_the_relay_receives_round_trips_and_delivers_the_same_requests(
    fake_qq: FakeQQApi, aws_tables: dict[str, str], waits: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QqEgress=relay: the Lambda queues the prepared send as JSON; the relay parses it and
    delivers it (with its own process cache): the upload, the media message, a recall."""
    from qqbus.senders.outcome import SendContext
    from qqbus.senders.qq import QQApi, QqSend, deliver, prepare
    from qqbus.senders.qq_media import InMemoryMediaCache

    from tests.senders.conftest import APPID, SECRET

    ctx = SendContext(retrying=waits.policy())
    api = QQApi(APPID, SECRET, fake_qq.url, fake_qq.token_url, waits.policy())
    cache = InMemoryMediaCache()
    media = prepare(reply(["look", Segment.image("https://example.com/r.png")]), ctx)
    assert isinstance(media, QqSend)
    relayed = QqSend.model_validate_json(media.model_dump_json(exclude_none=True))
    result = deliver(relayed, api, cache=cache)
    assert result.outcome == "sent" and len(fake_qq.uploads()) == 1
    recall = prepare(
        outbox(function="undo").ask(
            "qq", "recall", target=Target(group_id=GROUP), params={"message_id": result.platform_message_id}
        ),
        ctx,
    )
    assert isinstance(recall, QqSend) and recall.method == "DELETE"
    again = QqSend.model_validate_json(recall.model_dump_json(exclude_none=True))
    assert deliver(again, api, cache=cache).outcome == "sent"
    (deleted,) = fake_qq.recalls()
    assert deleted.path == f"/v2/groups/{GROUP}/messages/{result.platform_message_id}"
