"""A query round trip over the OneBot HTTP API: /whois asks, the sender calls the fake API on a
real socket, the result carries ``data`` and the continuation, and the step answers in the chat."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from qqbus.senders import json_http
from qqbus_dev.fake_apis import FakeOneBotApi

from tests.queries.conftest import ALICE, GROUP, Pipeline, text_of, whois


def test_whois_round_trip_answers_with_nickname_card_and_role(
    pipeline: Pipeline, fake_onebot: FakeOneBotApi
) -> None:
    (query,) = pipeline.ask(whois(ALICE))
    assert query["detail-type"] == "onebot.get_group_member_info"
    assert query["detail"]["then"]["step"] == "whois.answer"
    assert query["detail"]["then"]["group_id"] == str(GROUP)

    (result,) = pipeline.send(query)
    (call,) = fake_onebot.calls("get_group_member_info")
    assert call.body == {"group_id": GROUP, "user_id": ALICE, "no_cache": True}
    assert result["detail-type"] == "sent"
    assert result["detail"]["data"]["nickname"] == "Alice"  # the OneBot data rides on the result
    assert result["detail"]["then"] == query["detail"]["then"]

    status, (reply,) = pipeline.resume(result)
    assert status == {"status": "ok"}
    assert reply["detail-type"] == "onebot.send_group_msg"
    assert text_of(reply) == f"{ALICE}: Alice (card: 小爱), role: admin"
    assert reply["detail"]["reply_to"]["event_id"] == query["detail"]["origin"]["event_id"]

    again, asked = pipeline.resume(result)  # EventBridge delivers at least once
    assert again["status"] == "duplicate" and asked == []

    pipeline.send(reply)
    (posted,) = fake_onebot.calls("send_group_msg")
    assert posted.body["group_id"] == GROUP
    assert posted.body["message"][0]["data"]["text"].startswith(f"{ALICE}: Alice")


def test_whois_without_a_mention_asks_about_the_sender(
    pipeline: Pipeline, fake_onebot: FakeOneBotApi
) -> None:
    event = whois()
    (query,) = pipeline.ask(event)
    assert query["detail"]["params"]["user_id"] == event["detail"]["payload"]["user_id"]


def test_a_member_not_in_the_group_gets_a_clear_answer(
    pipeline: Pipeline, fake_onebot: FakeOneBotApi
) -> None:
    (query,) = pipeline.ask(whois(555))
    (result,) = pipeline.send(query)
    assert (result["detail-type"], result["detail"]["reason"]) == ("failed", "onebot_100")
    _, (reply,) = pipeline.resume(result)
    assert text_of(reply) == "cannot look up 555: 群员不存在"
    _, asked = pipeline.resume(result)
    assert asked == []  # answered once: no loop


@pytest.fixture
def silent_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A OneBot API that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    monkeypatch.setenv("ONEBOT_API_URL", url)
    monkeypatch.setenv("ONEBOT_ACCESS_TOKEN", "")
    monkeypatch.setattr(json_http, "REQUEST_TIMEOUT_S", 0.2)
    yield url
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def test_a_query_whose_answer_never_comes_ends_in_an_answer(
    pipeline: Pipeline, silent_api: str, no_waits: list[float]
) -> None:
    (query,) = pipeline.ask(whois(ALICE))
    for _ in (1, 2):  # Lambda's retries of the sender: nothing reported yet
        with pytest.raises(json_http.Unavailable):
            pipeline.send(query)
        assert pipeline.bus.published("qqbus.action.result") == []
    with pytest.raises(json_http.Unavailable):  # the last attempt reports before failing
        pipeline.send(query)
    (result,) = pipeline.bus.published("qqbus.action.result")
    assert (result["detail-type"], result["detail"]["reason"]) == ("failed", "unavailable")
    _, (reply,) = pipeline.resume(result)
    assert text_of(reply) == f"cannot look up {ALICE}: the OneBot API could not be reached"
