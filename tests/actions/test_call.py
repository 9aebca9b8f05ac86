"""``ev.call(action, message=...)``: a message given as text is sent as text, never as CQ codes.

OneBot implementations parse a *string* message as CQ codes: a raw ``"[CQ:at,qq=all]"`` passed
through would mention everyone in the group. ``call`` turns the message into segments, so the
words a user typed (``/echo [CQ:at,qq=all]``) reach the group as those words.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from qqbus.actions import Action, Outbox, Segment, collecting
from qqbus.handler import Delivered
from qqbus.senders.json_http import Retrying
from qqbus.senders.onebot import perform
from qqbus.senders.outcome import SendContext
from qqbus.state import InMemoryGroupStore
from qqbus_dev.fake_apis import FakeOneBotApi

from tests.support import event_file

AT_ALL = "[CQ:at,qq=all]"
AS_TEXT = [{"type": "text", "data": {"text": AT_ALL}}]


def _event() -> Delivered[Any]:
    return Delivered[Any].model_validate(event_file("onebot_group_message")["detail"])


def _call(**params: Any) -> Action:
    ev = _event()
    box = Outbox(bot_id=ev.bot_id, event_id=ev.event_id, detail_type="message.group", function="f")
    with collecting(box):
        return ev.call("send_group_msg", group_id=5, **params)


def test_a_cq_string_is_one_text_segment() -> None:
    action = _call(message=AT_ALL)
    assert action.params["message"] == AS_TEXT  # not the string: OneBot would read it as CQ codes
    assert action.message == [Segment.text(AT_ALL)] and action.text == AT_ALL
    # The action as it travels on the bus still holds segments.
    again = Action.model_validate(action.model_dump(mode="json", exclude_none=True))
    assert again.params["message"] == AS_TEXT


def test_segments_and_mixes_are_sent_as_segments() -> None:
    assert _call(message=Segment.at(7)).params["message"] == [{"type": "at", "data": {"qq": "7"}}]
    mixed = _call(message=["hi ", Segment.at("all"), AT_ALL]).params["message"]
    assert mixed == [
        {"type": "text", "data": {"text": "hi "}},
        {"type": "at", "data": {"qq": "all"}},
        {"type": "text", "data": {"text": AT_ALL}},
    ]


def test_a_call_without_a_message_has_none() -> None:
    action = _call(user_id=6, duration=60)
    assert "message" not in action.params and action.message is None
    assert action.params == {"group_id": 5, "user_id": 6, "duration": 60}


def test_a_message_of_another_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="message must be text"):
        _call(message={"type": "text", "data": {"text": AT_ALL}})


@pytest.fixture
def onebot_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOneBotApi]:
    api = FakeOneBotApi()
    api.start()
    monkeypatch.setenv("ONEBOT_API_URL", api.url)
    monkeypatch.delenv("ONEBOT_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("ONEBOT_ACCESS_TOKEN_PARAMETER", raising=False)
    yield api
    api.stop()


def test_the_onebot_api_receives_segments_not_a_cq_string(onebot_api: FakeOneBotApi) -> None:
    groups = InMemoryGroupStore()
    ctx = SendContext(retrying=Retrying(sleep=lambda _: None), groups=lambda: groups)
    result = perform(_call(message=AT_ALL), ctx)
    assert result is not None and result.outcome == "sent"
    (call,) = onebot_api.calls("send_group_msg")
    assert call.body == {"group_id": 5, "message": AS_TEXT}
