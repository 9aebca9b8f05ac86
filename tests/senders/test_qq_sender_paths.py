"""The QQ sender's failures that are not QQ's answer to a message: an action QQ has no API for,
a message with nothing in it, and a bot whose token QQ will not give or keeps refusing.

Each is ``failed`` with its reason (refusals are data, never an exception that would retry),
and none sends a message or spends one of the event's five reply slots.
"""

from __future__ import annotations

import time

import pytest
from qqbus.actions import Action, Result, Segment
from qqbus.events.qq import GroupAtMessageCreate
from qqbus.senders.outcome import SendContext
from qqbus.senders.qq import RELAY_QUEUE_ENV, perform
from qqbus_dev.fake_apis import FakeQQApi

from tests.senders.conftest import APPID, Waits, outbox
from tests.support import SAMPLES, load_json

GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"


@pytest.fixture
def send(
    aws_tables: dict[str, str], fake_qq: FakeQQApi, waits: Waits, monkeypatch: pytest.MonkeyPatch
) -> SendContext:
    """What ``perform`` needs: moto's tables, the fake QQ API, retries that do not sleep."""
    monkeypatch.delenv(RELAY_QUEUE_ENV, raising=False)
    return SendContext(retrying=waits.policy())


def message(age: int = 5) -> GroupAtMessageCreate:
    raw = load_json(SAMPLES / "qq" / "official_group_at_message_create.json")
    raw["d"]["timestamp"] = int(time.time()) - age
    return GroupAtMessageCreate.model_validate(raw)


def performed(action: Action, ctx: SendContext) -> Result:
    result = perform(action, ctx)
    assert result is not None  # no relay queue: the sender reports itself
    assert (result.action_id, result.bot_id, result.protocol, result.action) == (
        action.action_id,
        APPID,
        "qq",
        action.action,
    )
    return result


def the_next_reply_gets_the_first_slot(ctx: SendContext, fake_qq: FakeQQApi) -> None:
    """A reply to the same message after the failure is sent with msg_seq 1: no slot was spent."""
    result = performed(outbox(function="later").reply(message(), "pong"), ctx)
    assert result.outcome == "sent" and result.msg_seq == 1
    assert [r.body["msg_seq"] for r in fake_qq.messages()] == [1]


@pytest.mark.parametrize("action", ["set_group_ban", "send_group_msg", "group_messages", ""])
def test_an_action_qq_has_no_api_for_fails_as_unsupported(
    send: SendContext, fake_qq: FakeQQApi, action: str
) -> None:
    asked = outbox().ask("qq", action, message="pong")
    result = performed(asked, send)
    assert (result.outcome, result.reason) == ("failed", "unsupported_action")
    assert result.message == f"QQ has no action {action!r}"
    assert fake_qq.received == [] and fake_qq.token_requests == 0  # QQ was never asked


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\n\t", [Segment.text(""), Segment.text("  ")]],
    ids=["empty", "spaces", "ws", "parts"],
)
def test_a_message_with_nothing_to_send_fails_as_empty(
    send: SendContext, fake_qq: FakeQQApi, text: str | list[Segment]
) -> None:
    result = performed(outbox().reply(message(), text), send)
    assert (result.outcome, result.reason, result.message) == ("failed", "empty_message", "nothing to send")
    assert fake_qq.received == []
    the_next_reply_gets_the_first_slot(send, fake_qq)


def test_an_image_alone_is_not_empty(send: SendContext, fake_qq: FakeQQApi) -> None:
    result = performed(outbox().reply(message(), Segment.image("https://example.com/a.png")), send)
    assert result.outcome == "sent"
    assert fake_qq.messages()[0].body["msg_type"] == 7


def test_a_secret_qq_does_not_know_fails_as_unauthorized(
    send: SendContext, fake_qq: FakeQQApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token endpoint refuses the bot's secret: no message goes out, the reason says why."""
    monkeypatch.setenv("QQ_BOT_SECRET", "not-the-bots-secret")
    result = performed(outbox().reply(message(), "pong"), send)
    assert (result.outcome, result.reason) == ("failed", "unauthorized")
    assert result.message is not None and result.message.startswith("no access token (HTTP 401)")
    assert "invalid appid or secret" in result.message
    assert fake_qq.token_requests == 1 and fake_qq.messages() == []
    assert "not-the-bots-secret" not in result.model_dump_json()  # the secret is never reported


def test_a_token_qq_keeps_refusing_fails_as_unauthorized_after_one_fresh_token(
    send: SendContext, fake_qq: FakeQQApi
) -> None:
    """A 401 about the token: one new token and one more try; refused again, it is reported."""
    for _ in range(2):
        fake_qq.fail_next(401, {"code": 11244, "message": "token not exist or expire"})
    result = performed(outbox().reply(message(), "pong"), send)
    assert (result.outcome, result.reason, result.code) == ("failed", "unauthorized", 11244)
    assert fake_qq.token_requests == 2  # the cached token, then a fresh one
    assert [r.status for r in fake_qq.received if r.path.endswith("/messages")] == [401, 401]
    assert fake_qq.messages() == []


def test_a_token_refused_once_is_fetched_again_and_the_message_sent(
    send: SendContext, fake_qq: FakeQQApi
) -> None:
    fake_qq.fail_next(401, {"code": 11244, "message": "token not exist or expire"})
    result = performed(outbox().reply(message(), "pong"), send)
    assert (result.outcome, result.msg_seq) == ("sent", 1)
    assert fake_qq.token_requests == 2 and len(fake_qq.messages()) == 1


def test_a_repeat_after_the_reply_window_closed_is_a_repeat_not_a_refusal(
    send: SendContext, fake_qq: FakeQQApi
) -> None:
    """The first delivery was sent; a repeat that arrives after the passive window closed would be
    refused by the gate, but the done mark beside the message's slot says it was performed."""
    from dataclasses import replace

    from qqbus.senders.outcome import Repeated

    action = outbox().reply(message(age=5), "pong")
    assert performed(action, send).outcome == "sent"
    assert perform(action, send) == Repeated("sent")  # at once: found in the slot's read
    late = replace(send, now=send.now + 3600)  # long after the window
    assert perform(action, late) == Repeated("sent")
    other = outbox(function="other").reply(message(age=5), "pong")  # never performed
    result = perform(other, late)
    assert isinstance(result, Result) and result.outcome == "refused"
    assert result.reason == "reply_window_closed"
    assert len(fake_qq.messages()) == 1
