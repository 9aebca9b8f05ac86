"""The console's HTTP API on a running `qqbus dev`: what the page reads and what its buttons do.

Real sockets on 127.0.0.1 throughout: the stack in a subprocess, requests with http.client,
the live feed read as Server-Sent Events, the OneBot relay over a real WebSocket.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.local.stacks import Stack
from tests.support import EVENTS

SECRETS = ("qqbus-dev-secret", "qqbus-dev-onebot")


def call(
    stack: Stack, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    url = urlsplit(stack.http)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    raw = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if raw is not None else {}
    sent.update(headers or {})
    try:
        conn.request(method, path, body=raw, headers=sent)
        response = conn.getresponse()
        data = response.read()
        found = {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
    if found.get("content-type", "").startswith("application/json"):
        return response.status, json.loads(data), found
    return response.status, data.decode("utf-8", "replace"), found


def ok(stack: Stack, path: str, body: Any) -> Any:
    status, data, _ = call(stack, "POST", path, body)
    assert status == 200, (path, body, status, data)
    return data


def wait(probe: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def chat(stack: Stack, key: str) -> list[dict[str, Any]]:
    return call(stack, "GET", "/console/api/snapshot")[1]["conversations"].get(key, [])


def test_page_assets_and_reads_are_served_without_secrets(console_stack: Stack) -> None:
    responses = {
        path: call(console_stack, "GET", path)
        for path in (
            "/",
            "/console/static/console.css",
            "/console/static/console.js",
            "/console/api/snapshot",
            "/console/api/state",
            "/console/api/failures",
        )
    }
    types = {path: headers["content-type"] for path, (_, _, headers) in responses.items()}
    assert types["/"].startswith("text/html")
    assert types["/console/static/console.css"].startswith("text/css")
    assert types["/console/static/console.js"].startswith("text/javascript")
    for path, (status, data, headers) in responses.items():
        assert status == 200, path
        assert "default-src 'self'" in headers["content-security-policy"], path
        text = data if isinstance(data, str) else json.dumps(data)
        assert not any(secret in text for secret in SECRETS), f"{path} shows a secret"
    snapshot = responses["/console/api/snapshot"][1]
    assert {b["key"] for b in snapshot["bots"]} >= {"qq:102000001", "onebot:123456789"}
    assert {q["queue"] for q in responses["/console/api/failures"][1]["queues"]} == {
        "HandlerFailureQueue",
        "DeliveryDeadLetterQueue",
        "ScheduleFailureQueue",
    }
    tables = {t["name"] for t in responses["/console/api/state"][1]["tables"]}
    assert "GroupsTable" in tables and "IdempotencyTable" not in tables
    assert call(console_stack, "GET", "/health")[1]["status"] == "ok"  # the JSON health moved here


@pytest.mark.parametrize(
    "method, path, body, headers, status, says",
    [
        (
            "POST",
            "/console/api/users",
            b"name=x",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "Content-Type: application/json",
        ),
        (
            "POST",
            "/console/api/users",
            {"protocol": "qq"},
            {"Origin": "https://evil.example"},
            403,
            "'https://evil.example' are not accepted",
        ),
        (
            "POST",
            "/console/api/users",
            {"protocol": "qq"},
            {"Sec-Fetch-Site": "cross-site"},
            403,
            "not accepted",
        ),
        ("GET", "/console/api/snapshot", None, {"Host": "rebound.example:3000"}, 403, "is not this machine"),
        ("POST", "/console/api/users", b"{not json", {}, 400, "not JSON"),
        ("POST", "/console/api/users", b"[1, 2]", {}, 400, "a JSON object, not list"),
        ("POST", "/console/api/users", {"protocol": "irc"}, {}, 400, "protocol"),
        ("POST", "/console/api/users", {"protocol": "qq", "admin": True}, {}, 400, "admin: Extra inputs"),
        ("POST", "/console/api/say", {"bot": "qq:102000001", "user": "u"}, {}, 400, "text: Field required"),
        ("POST", "/console/api/say", {"bot": "qq:1", "user": "u", "text": "hi"}, {}, 400, "no bot 'qq:1'"),
        (
            "POST",
            "/console/api/say",
            {"bot": "qq:102000001", "user": "nobody", "text": "hi"},
            {},
            400,
            "add the user first",
        ),
        (
            "POST",
            "/console/api/notice",
            {"bot": "qq:102000001", "group": "g", "kind": "mute_bot", "user": "u"},
            {},
            400,
            "no qq notice 'mute_bot'",
        ),
        (
            "POST",
            "/console/api/post",
            {"bot": "qq:102000001", "text": "hi"},
            {},
            400,
            "exactly one of group and user",
        ),
        (
            "POST",
            "/console/api/post",
            {"bot": "qq:102000001", "user": "u", "text": "hi", "message": [{"type": "text"}]},
            {},
            400,
            "exactly one of text and message",
        ),
        (
            "POST",
            "/console/api/post",
            {"bot": "qq:102000001", "user": "u", "message": [{"data": {}}]},
            {},
            400,
            "message.0.type: Field required",
        ),
        (
            "POST",
            "/console/api/click",
            {"bot": "onebot:123456789", "user": "u", "data": "/ping"},
            {},
            400,
            "keyboards are QQ's",
        ),
        ("POST", "/console/api/recall", {"bot": "qq:102000001", "entry": "e-1"}, {}, 400, "no message 'e-1'"),
        ("POST", "/console/api/bots", {"id": "12ab"}, {}, 400, "id: String should match pattern"),
        (
            "POST",
            "/console/api/fault",
            {"api": "qq", "status": 200},
            {},
            400,
            "status: Input should be greater",
        ),
        ("POST", "/console/api/fault", {"api": "wechat"}, {}, 400, "no fake API 'wechat'"),
        ("POST", "/console/api/fault/clear", {"api": "wechat"}, {}, 400, "no fake API 'wechat'"),
        (
            "POST",
            "/console/api/replay",
            {"queue": "HandlerFailureQueue", "message_id": "m-1"},
            {},
            404,
            "no message 'm-1'",
        ),
        (
            "POST",
            "/console/api/replay",
            {"queue": "Elsewhere", "message_id": "m-1"},
            {},
            404,
            "no failure queue 'Elsewhere'",
        ),
        ("POST", "/console/api/users", b"{" + b" " * 70_000 + b"}", {}, 413, "over 65536 bytes"),
        ("POST", "/console/api/nothing", {}, {}, 404, "nothing to POST to"),
        ("GET", "/console/static/..%2Fapp.py", None, {}, 404, "no static file"),
        ("GET", "/console/static/console.py", None, {}, 404, "no static file"),
        ("GET", "/console/api/trace/no-such-event", None, {}, 404, "no such event"),
    ],
)
def test_bad_requests_get_a_specific_4xx_and_a_log_line(
    console_stack: Stack,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    says: str,
) -> None:
    got, data, _ = call(console_stack, method, path, body, headers)
    assert got == status, data
    assert says in data["error"], data
    wait(
        lambda: f"!  console: {method} {urlsplit(path).path} {status}" in console_stack.log(), "the log line"
    )


ROUTES = [
    "users",
    "groups",
    "bots",
    "say",
    "notice",
    "post",
    "replay",
    "fault",
    "fault/clear",
    "recall",
    "click",
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    [
        "protocol",
        "name",
        "id",
        "bot",
        "user",
        "group",
        "text",
        "mention",
        "kind",
        "duration",
        "queue",
        "message_id",
        "message",
        "entry",
        "button_id",
        "data",
        "label",
        "api",
        "status",
        "times",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    body=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(FIELDS, JSON_VALUES, max_size=5).map(lambda d: json.dumps(d).encode()),
    ),
)
def test_fuzzed_console_posts_get_an_answer_never_a_crash(
    console_stack: Stack, route: str, body: bytes
) -> None:
    status, data, _ = call(console_stack, "POST", f"/console/api/{route}", body)
    assert status in (200, 400, 404), (route, body, status, data)
    if status != 200:
        assert isinstance(data, dict) and data["error"], data
    assert "Traceback" not in console_stack.log()


@contextmanager
def events(stack: Stack, after: int) -> Iterator[Iterator[tuple[str, Any]]]:
    """The console's Server-Sent Events after feed id ``after``, as (event, data) pairs."""
    url = urlsplit(stack.http)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    conn.request("GET", f"/console/events?after={after}")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")

    def read() -> Iterator[tuple[str, Any]]:
        kind, data = "message", ""
        while line := response.readline():
            text = line.decode().rstrip("\n")
            if text.startswith("event: "):
                kind = text.removeprefix("event: ")
            elif text.startswith("data: "):
                data = text.removeprefix("data: ")
            elif text == "" and data:
                yield kind, json.loads(data)
                kind, data = "message", ""

    try:
        yield read()
    finally:
        conn.close()


def test_a_private_onebot_ping_streams_its_chat_and_trace_live(console_stack: Stack) -> None:
    after = call(console_stack, "GET", "/console/api/snapshot")[1]["feed_id"]
    carol = ok(console_stack, "/console/api/users", {"protocol": "onebot", "name": "Carol"})
    key = f"onebot:123456789:user:{carol['id']}"
    with events(console_stack, after) as stream:
        said = ok(
            console_stack,
            "/console/api/say",
            {"bot": "onebot:123456789", "user": carol["id"], "text": "/ping"},
        )
        assert said["conversation"] == key and said["status"] == "delivered" and said["note"] == "ingress 204"
        pong, handled = None, None
        for kind, data in stream:
            if kind == "chat" and data["conversation"] == key and data["who"] == "bot":
                pong = data if data["status"] == "sent" else pong
            if kind == "trace" and data["event_id"] == said["event_id"]:
                functions = {s["data"].get("function") for s in data["steps"] if s["kind"] == "invocation"}
                handled = data if "OnebotPrivateMessageFunction" in functions else handled
            if pong and handled:
                break
    assert pong is not None and pong["text"] == "pong"
    assert handled is not None and handled["detail_type"] == "message.private"
    invocation = next(
        s for s in handled["steps"] if s["data"].get("function") == "OnebotPrivateMessageFunction"
    )
    assert invocation["data"]["rule"] == "OnebotPrivateMessageFunctionBus"
    assert "private message; command /ping" in [
        json.loads(line)["message"] for line in invocation["data"]["logs"]
    ]


def test_the_trace_of_a_join_shows_the_group_row_before_and_after(console_stack: Stack) -> None:
    dave = ok(console_stack, "/console/api/users", {"protocol": "qq", "name": "Dave"})
    group = ok(console_stack, "/console/api/groups", {"protocol": "qq", "name": "Row watch"})
    join = {"bot": "qq:102000001", "group": group["id"], "kind": "join", "user": dave["id"]}
    event_id = ok(console_stack, "/console/api/notice", join)["event_id"]

    def state_step(event_id: str) -> Any:
        status, found, _ = call(console_stack, "GET", f"/console/api/trace/{quote(event_id)}")
        steps = found["trace"]["steps"] if status == 200 and found["trace"] else []
        return next((s for s in steps if "state" in s["data"]), None)

    state = wait(lambda: state_step(event_id), "the join's state change")["data"]["state"]
    assert state["key"] == {"bot_id": "102000001", "group_id": group["id"]}
    assert state["before"] is None
    assert state["after"]["member"] is True and state["after"]["reply_event_id"] == event_id
    # The next event on the group starts from the row the join left.
    left_id = ok(console_stack, "/console/api/notice", {**join, "kind": "leave"})["event_id"]
    left = wait(lambda: state_step(left_id), "the leave's state change")["data"]["state"]
    assert left["before"] == state["after"]
    assert left["after"]["member"] is False and left["after"]["member_at"] >= state["after"]["member_at"]
    detail = call(console_stack, "GET", f"/console/api/trace/{quote(event_id)}")[1]
    assert detail["payload"]["d"]["op_member_openid"] == dave["id"]
    assert detail["event"]["detail-type"] == "GROUP_ADD_ROBOT"
    assert detail["event"]["detail"]["transport"] == "webhook"


def test_a_dead_letter_from_the_bus_is_described_and_replayed(console_stack: Stack) -> None:
    """EventBridge's own dead letter (the event, the error in attributes) goes back on the bus."""
    joined = {
        "time": int(time.time()),
        "self_id": 123456789,
        "post_type": "notice",
        "notice_type": "group_increase",
        "sub_type": "invite",
        "group_id": 700700,
        "operator_id": 1,
        "user_id": 123456789,
    }
    event = {
        "version": "0",
        "id": "f00d",
        "source": "onebot.v11",
        "detail-type": "notice.group_increase",
        "detail": {
            "bot_id": "123456789",
            "event_id": "dlq-test-1",
            "transport": "http_post",
            "received_at": int(time.time() * 1000),
            "payload": joined,
        },
    }
    sqs = console_stack.client("sqs")
    url = sqs.get_queue_url(QueueName="qqbus-local-delivery-dlq")["QueueUrl"]
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(event),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Lambda was throttled"},
            "TARGET_ARN": {"DataType": "String", "StringValue": "arn:aws:lambda:us-east-1:1:function:Fn"},
        },
    )
    queues = {q["queue"]: q for q in call(console_stack, "GET", "/console/api/failures")[1]["queues"]}
    (parked,) = [
        m for m in queues["DeliveryDeadLetterQueue"]["messages"] if m["message_id"] == sent["MessageId"]
    ]
    assert parked["error"] == "SDK_CLIENT_ERROR: Lambda was throttled"
    assert parked["detail_type"] == "notice.group_increase" and parked["function"] == "Fn"
    again = call(console_stack, "GET", "/console/api/failures")[1]["queues"]  # listing consumed nothing
    assert any(m["message_id"] == sent["MessageId"] for q in again for m in q["messages"])

    replayed = ok(
        console_stack,
        "/console/api/replay",
        {"queue": "DeliveryDeadLetterQueue", "message_id": sent["MessageId"]},
    )
    assert replayed["event_id"] == "dlq-test-1"
    groups = console_stack.client("dynamodb")

    def row() -> Any:  # once written whole: moto's UpdateItem is not atomic to a concurrent read
        key = {"bot_id": {"S": "123456789"}, "group_id": {"S": "700700"}}
        item = groups.get_item(TableName=console_stack.state["groups_table"], Key=key).get("Item")
        return item if item and "member" in item else None

    assert wait(row, "the replayed join")["member"] == {"BOOL": True}
    after = call(console_stack, "GET", "/console/api/failures")[1]["queues"]
    assert not any(m["message_id"] == sent["MessageId"] for q in after for m in q["messages"])
    assert (
        call(
            console_stack,
            "POST",
            "/console/api/replay",
            {"queue": "DeliveryDeadLetterQueue", "message_id": sent["MessageId"]},
        )[0]
        == 404
    )


def test_reverse_websocket_bots_appear_and_leave(console_stack: Stack) -> None:
    from websockets.sync.client import connect

    def bots() -> dict[str, str]:
        return {b["key"]: b["via"] for b in call(console_stack, "GET", "/console/api/snapshot")[1]["bots"]}

    headers = {"X-Self-ID": "424242", "X-Client-Role": "Universal"}
    with connect(console_stack.state["relay_onebot"], additional_headers=headers, proxy=None):
        assert wait(lambda: bots().get("onebot:424242"), "the relay bot") == "reverse WebSocket"
    wait(lambda: "onebot:424242" not in bots(), "the relay bot to leave")


def test_messages_from_outside_the_sandbox_join_the_chat(console_stack: Stack) -> None:
    """`qqbus send` (or a relay) talks to the bot too: its message and the answer show up."""
    status, _ = console_stack.send(EVENTS / "onebot_group_message.json", fresh_time=True)
    assert status == 204
    key = "onebot:123456789:group:987654321"
    entries = wait(
        lambda: [e for e in chat(console_stack, key) if e["status"] == "sent"] and chat(console_stack, key),
        "the pong",
    )
    said = next(e for e in entries if e["who"] == "user")
    assert said["text"] == "@123456789 /ping" and said["name"] == "管理员" and said["note"] == "via http_post"
    assert [e["text"] for e in entries if e["who"] == "bot"] == ["pong"]
    people = call(console_stack, "GET", "/console/api/snapshot")[1]["people"]
    assert {"protocol": "onebot", "id": "345678901", "name": "管理员"} in people


def test_injected_faults_are_listed_and_cleared(console_stack: Stack) -> None:
    """The fault route says what is pending; clearing one fake (or all) leaves it answering."""
    injected = ok(console_stack, "/console/api/fault", {"api": "onebot", "status": 502, "times": 5})
    assert injected["faults"]["onebot"] == 5
    assert call(console_stack, "GET", "/console/api/failures")[1]["faults"]["onebot"] == 5
    ok(console_stack, "/console/api/fault", {"api": "qq", "kind": "ip_not_whitelisted", "times": 2})
    cleared = ok(console_stack, "/console/api/fault/clear", {"api": "onebot"})
    assert cleared["cleared"] == {"onebot": 5} and cleared["faults"] == {"onebot": 0, "qq": 2}
    everything = ok(console_stack, "/console/api/fault/clear", {})
    assert everything["cleared"] == {"onebot": 0, "qq": 2}
    assert call(console_stack, "GET", "/console/api/failures")[1]["faults"] == {"onebot": 0, "qq": 0}
    wait(lambda: "cleared the injected faults (onebot 0, qq 2)" in console_stack.log(), "the log line")


def test_a_qq_group_without_the_bot_gets_nothing_delivered(console_stack: Stack) -> None:
    """QQ delivers a group's messages only to a bot in the group: before the join the message stays
    with the user (not_delivered, saying why), after it the bot answers, after a leave nothing again."""
    pat = ok(console_stack, "/console/api/users", {"protocol": "qq", "name": "Pat"})
    group = ok(console_stack, "/console/api/groups", {"protocol": "qq", "name": "Botless"})
    members = {
        g["id"]: g["members"] for g in call(console_stack, "GET", "/console/api/snapshot")[1]["groups"]
    }
    assert members[group["id"]] == []
    say = {"bot": "qq:102000001", "user": pat["id"], "group": group["id"], "text": "/ping"}
    refused = ok(console_stack, "/console/api/say", say)
    assert refused["status"] == "not_delivered" and refused["event_id"] is None
    assert "not in this group" in refused["note"] and "add the bot to the group first" in refused["note"]

    join = {"bot": "qq:102000001", "group": group["id"], "kind": "join", "user": pat["id"]}
    ok(console_stack, "/console/api/notice", join)
    members = {
        g["id"]: g["members"] for g in call(console_stack, "GET", "/console/api/snapshot")[1]["groups"]
    }
    assert members[group["id"]] == ["qq:102000001"]
    assert ok(console_stack, "/console/api/say", say)["status"] == "delivered"
    key = f"qq:102000001:group:{group['id']}"
    wait(
        lambda: [e for e in chat(console_stack, key) if e["who"] == "bot" and e["status"] == "sent"],
        "the pong",
    )

    ok(console_stack, "/console/api/notice", {**join, "kind": "leave"})
    assert ok(console_stack, "/console/api/say", say)["status"] == "not_delivered"


def _joined_qq_group(stack: Stack, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A QQ user and a group the bot was added to (so it answers there)."""
    user = ok(stack, "/console/api/users", {"protocol": "qq", "name": name})
    group = ok(stack, "/console/api/groups", {"protocol": "qq", "name": f"{name}'s group"})
    ok(
        stack,
        "/console/api/notice",
        {"bot": "qq:102000001", "group": group["id"], "kind": "join", "user": user["id"]},
    )
    return user, group


def test_a_click_is_an_interaction_create_acknowledged_and_answered(console_stack: Stack) -> None:
    """A callback button's click goes through the QQ webhook ingress, signed, as INTERACTION_CREATE:
    the bot acknowledges it (PUT /interactions/{id}) and runs the button's data as the command."""
    user, group = _joined_qq_group(console_stack, "Quinn")
    click = {
        "bot": "qq:102000001",
        "user": user["id"],
        "group": group["id"],
        "button_id": "ping",
        "data": "/ping",
    }
    clicked = ok(console_stack, "/console/api/click", click)
    assert clicked["status"] == "delivered" and clicked["note"] == "ingress 200", clicked
    assert clicked["event_id"].startswith("INTERACTION_CREATE:")
    console_stack.trace(clicked["event_id"])  # settled: every action has its result
    shown = call(console_stack, "GET", f"/console/api/trace/{quote(clicked['event_id'])}")[1]
    actions = shown["trace"]["actions"]
    outcomes = {a["detail_type"]: (a.get("result") or {}).get("outcome") for a in actions}
    assert outcomes == {"qq.ack_interaction": "sent", "qq.group_message": "sent"}, actions
    payload = shown["payload"]
    assert payload["d"]["group_member_openid"] == user["id"] and payload["d"]["scene"] == "group"
    assert payload["d"]["data"]["resolved"] == {"button_data": "/ping", "button_id": "ping"}
    acks = [r for r in console_stack.fake("qq") if r["method"] == "PUT"]
    assert any(r["path"] == f"/interactions/{payload['d']['id']}" for r in acks), acks
    key = f"qq:102000001:group:{group['id']}"
    wait(
        lambda: [e for e in chat(console_stack, key) if e["text"] == "pong" and e["status"] == "sent"], "pong"
    )


def test_a_recall_marks_the_message_on_both_platforms(console_stack: Stack) -> None:
    """The bot takes a message back (QQ recall: DELETE; OneBot delete_msg): the entry is marked."""
    _, group = _joined_qq_group(console_stack, "Rita")
    friend = ok(console_stack, "/console/api/users", {"protocol": "onebot", "name": "Sol"})
    recalled = {}
    for bot, where, chat_id in (
        ("qq:102000001", "group", group["id"]),
        ("onebot:123456789", "user", friend["id"]),
    ):
        ok(console_stack, "/console/api/post", {"bot": bot, where: chat_id, "text": "oops"})
        key = f"{bot}:{where}:{chat_id}"
        sent = wait(
            lambda key=key: [e for e in chat(console_stack, key) if e["text"] == "oops" and e["message_id"]],
            "the post",
        )[0]
        ok(console_stack, "/console/api/recall", {"bot": bot, "entry": sent["id"]})
        wait(
            lambda key=key, sent=sent: [
                e for e in chat(console_stack, key) if e["id"] == sent["id"] and e["recalled"]
            ],
            "the recall",
        )
        recalled[bot] = sent["message_id"]
    deletes = [r for r in console_stack.fake("qq") if r["method"] == "DELETE"]
    path = f"/v2/groups/{group['id']}/messages/{recalled['qq:102000001']}"
    assert any(r["path"] == path for r in deletes)
    deleted = [r["body"] for r in console_stack.fake("onebot") if r["path"] == "/delete_msg"]
    assert {"message_id": int(recalled["onebot:123456789"])} in deleted


def test_schedules_and_bot_data_are_what_the_cli_prints(console_stack: Stack) -> None:
    """The Schedules and Bot data tabs read what `qqbus schedules` and `qqbus data` print."""
    from qqbus.bot_data import BotData
    from qqbus_dev.data_view import report
    from qqbus_dev.scheduler_clock import pending

    user, group = _joined_qq_group(console_stack, "Tess")
    say = {"bot": "qq:102000001", "user": user["id"], "group": group["id"], "text": "/remind 2h stretch"}
    ok(console_stack, "/console/api/say", say)
    ok(console_stack, "/console/api/say", {**say, "text": "/guess"})
    listed = wait(
        lambda: (
            (got := call(console_stack, "GET", "/console/api/schedules")[1])
            and [r for r in got["once"] if r["chat"] == group["id"]]
            and got
        ),
        "the reminder",
    )
    mine = next(r for r in listed["once"] if r["chat"] == group["id"])
    assert (
        mine["step"] == "remind.fire"
        and mine["data"] == {"text": "stretch"}
        and mine["bot_id"] == "102000001"
    )
    assert [r["expression"] for r in listed["recurring"] if r["step"] == "heartbeat"] == ["rate(1 hour)"]
    assert all(r["expression"].startswith("at(") for r in listed["once"])  # cron ones are recurring
    assert sorted(listed["once"] + listed["recurring"], key=str) == sorted(
        pending(console_stack.client("scheduler")), key=str
    )

    dynamodb = console_stack.client("dynamodb")
    table = next(n for n in dynamodb.list_tables()["TableNames"] if n.endswith("-bot-data"))
    shown = wait(
        lambda: (
            (got := call(console_stack, "GET", "/console/api/data")[1])
            and [c for c in got["conversations"] if c["chat"] == f"group:{group['id']}"]
            and got
        ),
        "the /guess conversation",
    )
    assert shown == {"table": table, **json.loads(report(BotData(table, dynamodb), as_json=True))}
