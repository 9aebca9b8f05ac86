"""The QQ sender on moto, against the fake QQ OpenAPI over a real socket."""

from __future__ import annotations

import time
from typing import Any

import pytest
from qqbus.actions import Action, Segment
from qqbus.events.qq import C2CMessageCreate, GroupAddRobot, GroupAtMessageCreate
from qqbus.state import DynamoGroupStore
from qqbus_dev.fake_apis import FakeQQApi

from tests.conftest import BusTap
from tests.senders.conftest import APPID, Send, Waits, outbox, results
from tests.support import SAMPLES, load_json

GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"


def group_message(age: int = 5, text: str = " /ping", msg_id: str | None = None) -> GroupAtMessageCreate:
    raw = load_json(SAMPLES / "qq" / "official_group_at_message_create.json")
    raw["d"]["content"] = text
    raw["d"]["timestamp"] = int(time.time()) - age
    if msg_id:
        raw["d"]["id"] = msg_id
    return GroupAtMessageCreate.model_validate(raw)


def reply(text: str = "pong", age: int = 5, index: int = 0, **kw: Any) -> Action:
    box = outbox(function=f"f{index}")
    return box.reply(group_message(age, **kw), text)


def test_a_passive_reply_is_exactly_the_contracts_request(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    message = group_message()
    action = outbox().reply(message, "pong")
    assert qq_send(action)["status"] == "sent"
    (request,) = fake_qq.messages()
    assert request.path == f"/v2/groups/{GROUP}/messages"
    assert request.headers["authorization"].startswith("QQBot fake-token-")
    assert request.headers["x-union-appid"] == APPID
    assert request.body == {"content": "pong", "msg_type": 0, "msg_id": message.d.id, "msg_seq": 1}
    (result,) = results(event_bus)
    assert result["outcome"] == "sent" and result["mode"] == "passive" and result["msg_seq"] == 1
    assert result["action_id"] == action.action_id and result["platform_message_id"].startswith("ROBOT1.0_")
    assert result["origin_event_id"] == "GROUP_AT_MESSAGE_CREATE:1"


def test_c2c_reply_goes_to_the_user(qq_send: Send, fake_qq: FakeQQApi) -> None:
    raw = load_json(SAMPLES / "qq" / "official_c2c_message_create.json")
    raw["d"]["timestamp"] = int(time.time()) - 3000  # inside C2C's 60 minutes
    message = C2CMessageCreate.model_validate(raw)
    assert qq_send(outbox().reply(message, "pong"))["status"] == "sent"
    (request,) = fake_qq.messages()
    assert request.path == "/v2/users/E4F4AEA33253A2797FB897C50B81D7ED/messages"
    assert request.body == {"content": "pong", "msg_type": 0, "msg_id": message.d.id, "msg_seq": 1}


def test_the_same_action_twice_is_delivered_once(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    action = reply()
    assert qq_send(action)["status"] == "sent"
    assert qq_send(action)["status"] == "duplicate"
    assert len(fake_qq.messages()) == 1
    assert [r["outcome"] for r in results(event_bus)] == ["sent"]


def test_a_retried_send_repeats_its_msg_seq_and_counts_as_sent(
    qq_send: Send, fake_qq: FakeQQApi, aws_tables: dict[str, str], event_bus: BusTap
) -> None:
    """A crash after the send, before the done mark: the retry holds the same slot, repeats its
    msg_seq, and QQ's 40054005 means delivered."""
    import boto3

    action = reply()
    assert qq_send(action)["status"] == "sent"
    dynamodb, table = boto3.client("dynamodb"), aws_tables["ActionsTable"]
    (slot,) = [i for i in dynamodb.scan(TableName=table)["Items"] if i["ref"]["S"].startswith("msg:")]
    marks = [name for name in slot if name.startswith("done:")]
    assert marks == [f"done:{action.delivery_id}"] and slot[marks[0]] == {"S": "sent"}
    dynamodb.update_item(  # the mark never written
        TableName=table,
        Key={"bot_id": slot["bot_id"], "ref": slot["ref"]},
        UpdateExpression="REMOVE #m",
        ExpressionAttributeNames={"#m": marks[0]},
    )
    assert dynamodb.scan(TableName=aws_tables["IdempotencyTable"])["Items"] == []  # no lock records
    assert qq_send(action)["status"] == "sent"
    first, second = fake_qq.received[-2], fake_qq.received[-1]
    assert first.body["msg_seq"] == second.body["msg_seq"] == 1
    assert second.status == 400 and second.answer["code"] == 40054005
    assert len(fake_qq.messages()) == 1
    assert [r.get("message") for r in results(event_bus)][-1] == "already delivered (QQ: duplicate msg_seq)"


def test_five_replies_get_five_msg_seqs_and_a_sixth_is_refused(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    for i in range(6):
        qq_send(reply(f"reply {i}", index=i))
    assert sorted(r.body["msg_seq"] for r in fake_qq.messages()) == [1, 2, 3, 4, 5]
    outcomes = [(r["outcome"], r.get("reason")) for r in results(event_bus)]
    assert outcomes == [("sent", None)] * 5 + [("refused", "reply_limit")]


def test_a_late_reply_cites_the_groups_event_or_is_refused(
    qq_send: Send, fake_qq: FakeQQApi, group_store: DynamoGroupStore, event_bus: BusTap
) -> None:
    late = reply(age=301)
    assert qq_send(late)["status"] == "refused"
    assert results(event_bus)[0]["reason"] == "reply_window_closed"
    # once the bot is added to the group, the add event's id may be cited
    now = int(time.time())
    group_store.write(APPID, GROUP, "qq", group_store.member(True, at=now - 60))
    group_store.write(APPID, GROUP, "qq", group_store.reply_event("GROUP_ADD_ROBOT:abc", at=now - 60))
    late_again = reply("later", age=400, index=1)
    assert qq_send(late_again)["status"] == "sent"
    (request,) = fake_qq.messages()
    assert request.body == {
        "content": "later",
        "msg_type": 0,
        "event_id": "GROUP_ADD_ROBOT:abc",
        "msg_seq": 1,
    }
    assert results(event_bus)[0]["mode"] == "event"


def test_unprompted_posts_follow_the_stored_state(
    qq_send: Send, fake_qq: FakeQQApi, group_store: DynamoGroupStore, event_bus: BusTap
) -> None:
    box = outbox(function="cron")
    assert qq_send(box.send_group("qq", GROUP, "news"))["status"] == "refused"
    now = int(time.time())
    group_store.write(APPID, GROUP, "qq", group_store.member(True, at=now - 60))
    group_store.write(APPID, GROUP, "qq", group_store.reply_event("GROUP_MSG_RECEIVE:r", at=now - 60))
    group_store.write(APPID, GROUP, "qq", group_store.proactive(True, at=now - 60))
    assert qq_send(box.send_group("qq", GROUP, "news 2"))["status"] == "sent"
    group_store.write(APPID, GROUP, "qq", group_store.proactive(False, at=now - 1))
    assert qq_send(box.send_group("qq", GROUP, "news 3"))["status"] == "refused"
    reasons = [(r["outcome"], r.get("reason")) for r in results(event_bus)]
    assert reasons == [("refused", "not_member"), ("sent", None), ("refused", "proactive_off")]
    assert [r.body["content"] for r in fake_qq.messages()] == ["news 2"]


def test_a_welcome_on_group_add_robot_cites_that_event(qq_send: Send, fake_qq: FakeQQApi) -> None:
    raw = load_json(SAMPLES / "qq" / "official_group_add_robot.json")
    raw["d"]["timestamp"] = int(time.time())
    added = GroupAddRobot.model_validate(raw)
    box = outbox(event_id=added.id or "", function="welcome", detail_type="GROUP_ADD_ROBOT")
    assert qq_send(box.reply(added, "hello"))["status"] == "sent"
    (request,) = fake_qq.messages()
    assert request.body == {"content": "hello", "msg_type": 0, "event_id": added.id, "msg_seq": 1}


def test_one_token_for_many_sends_then_refreshed_before_expiry_and_on_401(
    qq_send: Send, fake_qq: FakeQQApi
) -> None:
    for i in range(4):
        qq_send(reply(f"r{i}", index=i, msg_id=f"m{i}"))
    assert fake_qq.token_requests == 1
    fake_qq.expire_tokens()  # the platform forgot it: 401, one new token, the send goes through
    qq_send(reply("after 401", index=9, msg_id="m9"))
    assert fake_qq.token_requests == 2
    assert [r.status for r in fake_qq.received if r.path.endswith("/messages")][-2:] == [401, 200]
    fake_qq.expires_in = 60  # the next token lives 60 s: inside the last minute at once
    fake_qq.expire_tokens()
    qq_send(reply("x", index=10, msg_id="m10"))  # 401 -> a new token (of 60 s)
    assert fake_qq.token_requests == 3
    qq_send(reply("y", index=11, msg_id="m11"))  # that one is in its last minute: fetched anew first
    assert fake_qq.token_requests == 4
    assert [r.status for r in fake_qq.received if r.path.endswith("/messages")][-1] == 200
    assert len(fake_qq.messages()) == 7


def test_429_is_retried_after_retry_after(
    qq_send: Send, fake_qq: FakeQQApi, waits: Waits, event_bus: BusTap
) -> None:
    fake_qq.fail_next(429, {"code": 429, "message": "too many"}, {"Retry-After": "2"})
    assert qq_send(reply())["status"] == "sent"
    assert waits.slept and waits.slept[0] >= 2
    assert [r.status for r in fake_qq.received if r.path.endswith("/messages")] == [429, 200]


def test_5xx_exhausted_fails_the_invocation_and_the_last_attempt_reports_failed(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    action = reply()
    fake_qq.fail_next(503, {"code": 503, "message": "busy"}, times=12)
    for _attempt in (1, 2):
        with pytest.raises(Exception, match="gave up after 4 attempts"):
            qq_send(action)
        assert results(event_bus) == []  # Lambda retries: not an outcome yet
    with pytest.raises(Exception, match="gave up"):
        qq_send(action)
    (result,) = results(event_bus)
    assert (result["outcome"], result["reason"], result["code"]) == ("failed", "unavailable", 503)
    assert fake_qq.messages() == []


@pytest.mark.parametrize(
    "code, reason",
    [
        (40034102, "no_permission"),
        (40034105, "no_permission"),
        (22009, "limit_exceeded"),
        (40034024, "bad_msg_id"),
        (40099999, "qq_40099999"),
    ],
)
def test_platform_refusals_are_failed_with_readable_reasons(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, code: int, reason: str
) -> None:
    fake_qq.fail_next(400, {"code": code, "message": "said no"})
    assert qq_send(reply())["status"] == "failed"
    (result,) = results(event_bus)
    assert (result["reason"], result["code"], result["message"]) == (reason, code, "said no")


def test_an_image_is_uploaded_then_sent_as_media(qq_send: Send, fake_qq: FakeQQApi) -> None:
    box = outbox()
    action = box.reply(group_message(), ["look: ", Segment.image("https://example.com/a.png")])
    assert qq_send(action)["status"] == "sent"
    upload, message = [r for r in fake_qq.received if not r.path.startswith("/app/")]
    assert upload.path == f"/v2/groups/{GROUP}/files"
    assert upload.body == {"file_type": 1, "url": "https://example.com/a.png", "srv_send_msg": False}
    assert message.body["msg_type"] == 7 and message.body["media"] == {
        "file_info": upload.answer["file_info"]
    }
    assert message.body["content"] == "look: "


def test_mentions_render_as_qq_markup_and_unsupported_segments_fail(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    box = outbox()
    assert qq_send(box.reply(group_message(), [Segment.at("MEMBER"), " hi"]))["status"] == "sent"
    assert fake_qq.messages()[0].body["content"] == '<qqbot-at-user id="MEMBER" /> hi'
    assert qq_send(box.reply(group_message(), [Segment.face(1)]))["status"] == "failed"
    assert results(event_bus)[-1]["reason"] == "unsupported_message"


def test_an_app_id_without_a_secret_fails_clearly(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QQ_BOT_SECRET", '{"999": "someone-else"}')
    assert qq_send(reply())["status"] == "failed"
    assert results(event_bus)[0]["reason"] == "no_secret"
    assert fake_qq.received == []


def test_an_unprompted_c2c_message_cites_the_users_friend_add(
    qq_send: Send, fake_qq: FakeQQApi, aws_tables: dict[str, str], event_bus: BusTap
) -> None:
    from qqbus.state import DynamoUserStore

    users = DynamoUserStore(aws_tables["UsersTable"])
    box = outbox(function="digest")
    assert qq_send(box.send_private("qq", "USER1", "hello"))["status"] == "refused"
    now = int(time.time())
    users.write(APPID, "USER1", "qq", users.friend(True, at=now - 60))
    users.write(APPID, "USER1", "qq", users.reply_event("FRIEND_ADD:u1", at=now - 60))
    assert qq_send(box.send_private("qq", "USER1", "hello again"))["status"] == "sent"
    (request,) = fake_qq.messages()
    assert request.path == "/v2/users/USER1/messages"
    assert request.body == {
        "content": "hello again",
        "msg_type": 0,
        "event_id": "FRIEND_ADD:u1",
        "msg_seq": 1,
    }
    users.write(APPID, "USER1", "qq", users.proactive(False, at=now - 1))
    assert qq_send(box.send_private("qq", "USER1", "and again"))["status"] == "refused"
    assert [r.get("reason") for r in results(event_bus)] == ["proactive_off", None, "proactive_off"]


@pytest.mark.parametrize(
    "text", ["<qqbot-at-everyone />", 'hi <qqbot-at-user id="X" /> there', "<@!123> yo", "<emoji:4>"]
)
def test_text_cannot_become_qq_markup(text: str) -> None:
    from qqbus.senders.qq import render

    content, _ = render([Segment.text(text)])
    assert "<qqbot-" not in content and "<@" not in content and "<emoji" not in content
    assert content.replace("\u200b", "") == text  # the words are all still there


def test_a_real_mention_segment_still_renders_as_markup() -> None:
    from qqbus.senders.qq import render

    content, _ = render([Segment.at("M"), Segment.text(" a < b")])
    assert content == '<qqbot-at-user id="M" /> a < b'
