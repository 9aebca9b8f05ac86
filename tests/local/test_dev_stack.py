"""End to end on loopback: `qqbus dev` in a subprocess, signed posts over HTTP, state in moto."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from qqbus_dev.send import post
from qqbus_dev.template import load

from tests.local.stacks import Stack, running_stack
from tests.support import ACTION_ASKERS, CONTRACT, EVENTS, REPO, SUB_TYPES

BOOM = '''"""A handler that always fails: its events must end in the failure queue."""


def lambda_handler(event, context):
    raise RuntimeError("boom")
'''


def _template_with_a_failing_function(tmp: Path) -> Path:
    """The repository's template, plus BoomFunction for `notice.boom` (kept out of the catch-all)."""
    data = load()
    for res in data["Resources"].values():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = str(REPO / props[key])
    boom = json.loads(json.dumps(data["Resources"]["OnebotFriendAddFunction"]))
    (tmp / "boom").mkdir()
    (tmp / "boom" / "app.py").write_text(BOOM)
    boom["Properties"]["CodeUri"] = str(tmp / "boom")
    boom["Properties"]["Events"]["Bus"]["Properties"]["Pattern"]["detail-type"] = ["notice.boom"]
    data["Resources"]["BoomFunction"] = boom
    onebot_branch = data["Resources"]["UnhandledEventsRule"]["Properties"]["EventPattern"]["$or"][1]
    onebot_branch["detail-type"][0]["anything-but"].append("notice.boom")
    path = tmp / "template.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    template = _template_with_a_failing_function(tmp)
    args = ["--template", str(template), "--relay-onebot", "127.0.0.1:0", "--relay-token", "relay-token"]
    with running_stack(tmp, *args) as running:
        yield running


def _send_all(stack: Stack) -> None:
    for name in [*CONTRACT, *SUB_TYPES]:  # every event function's events file (a `qqbus new handler` too)
        status, body = stack.send(EVENTS / f"{name}.json")
        assert status in (200, 204), (name, status, body)


def _groups(stack: Stack) -> list[dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=stack.state["groups_table"])["Items"]
    return sorted(items, key=lambda i: (i["bot_id"]["S"], i["group_id"]["S"]))


def test_every_handler_runs_once_and_a_duplicate_changes_nothing(stack: Stack) -> None:
    _send_all(stack)
    stats = stack.wait_for(lambda s: all(s["functions"][fn]["ok"] >= 1 for fn in _event_functions(s)))
    for name in _event_functions(stats):
        assert stats["functions"][name]["ok"] == 1, name
        assert stats["functions"][name]["errors"] == 0, name
    rows = {(r["bot_id"]["S"], r["group_id"]["S"]): r for r in _groups(stack)}
    qq = rows[("102000001", "C9F778FE6ADF9D1D1DBE395BF744A33A")]
    assert qq["member"] == {"BOOL": False} and qq["proactive"] == {"BOOL": True}  # del and receive are newest
    assert qq["reply_event_id"]["S"] == "GROUP_MSG_RECEIVE:db4a10f1-0599-4345-bbbb-a2ed194b9c9c"
    onebot = rows[("123456789", "987654321")]
    assert onebot["member"] == {"BOOL": False} and onebot["bot_admin"] == {"BOOL": True}
    assert onebot["muted_until"] == {"N": str(1718000035 + 600)}

    # The same posts again (a webhook retry): each handler sees a duplicate and writes nothing.
    before = _groups(stack)
    ok_before = {k: v["ok"] for k, v in stack.stats()["functions"].items()}
    senders_once = sum(ok_before[name] for name in SENDER_FUNCTIONS)
    platforms_once = {name: _accepted(stack.fake(name)) for name in ("qq", "onebot")}
    _send_all(stack)
    # A handler that keeps a lock record says "duplicate"; a state handler (once=False) runs again
    # and its conditional writes refuse the event ("unchanged", counted as ok).
    unlocked = {
        fn
        for fn in _event_functions(stack.stats())
        if "once=False" in (REPO / "handlers" / _folder(fn) / "app.py").read_text()
    }
    stats = stack.wait_for(
        lambda s: all(
            s["functions"][fn]["ok" if fn in unlocked else "duplicates"]
            == (ok_before[fn] + 1 if fn in unlocked else 1)
            for fn in _event_functions(s)
        )
    )
    assert all(
        stats["functions"][fn]["ok"] == ok_before[fn] for fn in _event_functions(stats) if fn not in unlocked
    )
    assert _groups(stack) == before  # updated_at included: no handler wrote again
    records = stack.client("dynamodb").scan(TableName="qqbus-local-idempotency")["Items"]
    # Message handlers keep no lock record: they run again and ask for the same actions, which the
    # senders perform once (a refused one is refused again: a refusal sends nothing).
    assert {name: _accepted(stack.fake(name)) for name in ("qq", "onebot")} == platforms_once
    senders = senders_once
    sent = {*CONTRACT, *SUB_TYPES}  # results and schedules run only when something asks for them
    pinged = {
        name for name in ACTION_ASKERS if "_request" not in name and name in sent
    }  # requests: "pending"
    clicks = 1 if "qq_interaction_create" in pinged else 0  # a button click also asks for its ack
    assert senders == len(pinged) + clicks  # each /ping asked once and was performed once
    # each event ran its handler's body once: a lock record for each handler that keeps one (the
    # state handlers take once=False: their conditional writes refuse the duplicate instead)
    locked = [name for name in sent if "once=False" not in (REPO / "handlers" / name / "app.py").read_text()]
    # and a lock record for each delivery a sender locks: every OneBot action, and the QQ actions
    # with no reply slot (the click's ack); a QQ message is made once by its slot's done mark
    locked_sends = ok_before["OnebotSenderFunction"] + clicks
    # and the template's heartbeat, which fired once when the stack started (a schedule's step
    # runs once per fire)
    heartbeats = [r for r in records if r["id"]["S"].startswith("ScheduleFunction.")]
    assert len(heartbeats) == 1
    assert len(records) == len(locked) + locked_sends + len(heartbeats)
    assert all(r["status"]["S"] == "COMPLETED" for r in records)
    assert all(stats["functions"][fn]["errors"] == 0 for fn in _event_functions(stats))


def test_a_failing_handler_parks_its_event_after_the_retries(stack: Stack) -> None:
    boom = {"time": 1, "self_id": 123456789, "post_type": "notice", "notice_type": "boom", "user_id": 1}
    status, _ = stack.send(json.dumps(boom).encode())
    assert status == 204
    stats = stack.wait_for(lambda s: s["functions"]["BoomFunction"]["dead_lettered"] == 1)
    assert stats["functions"]["BoomFunction"]["invocations"] == 3
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="qqbus-local-handler-failures")["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail"]["payload"] == boom
    assert record["responsePayload"]["errorMessage"] == "boom"


@pytest.mark.parametrize(
    "path, body, headers",
    [
        ("/onebot", b'{"post_type": "notice", "notice_type"', {"X-Self-ID": "1"}),
        ("/onebot", b"\xff\xfe\xfd", {"X-Self-ID": "1"}),
        ("/onebot", b'{"post_type": 1}', {"X-Self-ID": "1"}),
        ("/onebot", b"{}", {}),
        ("/onebot", b'{"a":"' + b"x" * 400_000 + b'"}', {"X-Self-ID": "1"}),
        ("/qq/webhook", b'{"op": 0, "t": "GROUP_ADD_ROBOT"}', {"X-Bot-Appid": "1"}),
        (
            "/qq/webhook",
            b"not json",
            {"X-Bot-Appid": "1", "X-Signature-Ed25519": "00", "X-Signature-Timestamp": "1"},
        ),
        ("/qq/webhook", b'{"op": 13, "d": {"plain_token": "../etc", "event_ts": "1"}}', {"X-Bot-Appid": "1"}),
        ("/nowhere", b"{}", {}),
    ],
)
def test_malformed_posts_are_4xx_and_reach_no_function(
    stack: Stack, path: str, body: bytes, headers: dict[str, str]
) -> None:
    from qqbus_dev.send import Prepared

    before = stack.stats()
    status, answer = post(stack.http, Prepared(path, body, headers))
    assert 400 <= status < 500, (status, answer)
    assert b"Traceback" not in answer
    time.sleep(0.3)
    after = stack.stats()
    assert _bus_functions(after) == _bus_functions(before) and after["unhandled"] == before["unhandled"]
    ingress = [name for name in INGRESS if after["functions"][name] != before["functions"][name]]
    for name in ingress:  # the ingress function that answered counts the refusal as invalid
        assert after["functions"][name]["invalid"] == before["functions"][name]["invalid"] + 1


def test_unhandled_types_reach_only_the_catch_all(stack: Stack) -> None:
    life = {
        "time": 2,
        "self_id": 123456789,
        "post_type": "meta_event",
        "meta_event_type": "lifecycle",
        "sub_type": "connect",
    }
    assert stack.send(json.dumps(life).encode())[0] == 204
    stack.wait_for(lambda s: "meta_event.lifecycle" in s["unhandled"])


def test_the_onebot_relay_runs_inside_the_stack(stack: Stack) -> None:
    from websockets.sync.client import connect

    url = stack.state["relay_onebot"]
    assert url and url.startswith("ws://127.0.0.1:")
    joined = {
        "time": 1718009999,
        "self_id": 123456789,
        "post_type": "notice",
        "notice_type": "group_increase",
        "sub_type": "approve",
        "group_id": 555,
        "operator_id": 1,
        "user_id": 123456789,
    }
    before = stack.stats()["functions"]["OnebotGroupIncreaseFunction"]["ok"]
    headers = {"X-Self-ID": "123456789", "X-Client-Role": "Universal", "Authorization": "Token relay-token"}
    with connect(url, additional_headers=headers, proxy=None) as ws:
        ws.send(json.dumps(joined))
        stack.wait_for(lambda s: s["functions"]["OnebotGroupIncreaseFunction"]["ok"] == before + 1)
    rows = {(r["bot_id"]["S"], r["group_id"]["S"]): r for r in _groups(stack)}
    assert rows[("123456789", "555")]["member"] == {"BOOL": True}


def test_a_reverse_ws_bot_gets_its_reply_over_the_socket(stack: Stack) -> None:
    from websockets.sync.client import connect

    ping = json.loads((EVENTS / "onebot_group_message.json").read_text())["detail"]["payload"]
    ping.update(time=int(time.time()), message_id=31337)
    headers = {"X-Self-ID": "123456789", "X-Client-Role": "Universal", "Authorization": "Token relay-token"}
    before = len(stack.fake("onebot"))
    with connect(stack.state["relay_onebot"], additional_headers=headers, proxy=None) as ws:
        ws.send(json.dumps(ping))
        frame = json.loads(ws.recv(timeout=30))
        assert frame["action"] == "send_group_msg" and frame["params"]["group_id"] == ping["group_id"]
        assert frame["params"]["message"] == [{"type": "text", "data": {"text": "pong"}}]
        ws.send(json.dumps({"status": "ok", "retcode": 0, "data": {"message_id": 5}, "echo": frame["echo"]}))
        import hashlib

        event_id = hashlib.sha256(json.dumps(ping).encode()).hexdigest()
        trace = stack.trace(event_id)
    (action,) = trace["actions"].values()
    assert action["result"]["outcome"] == "sent" and action["result"]["mode"] == "relay"
    assert len(stack.fake("onebot")) == before  # the fake HTTP API was not used for this bot


def test_ctrl_c_stops_cleanly(stack: Stack) -> None:
    """Runs last (it stops the module's stack); makes the lines it checks itself."""
    from websockets.sync.client import connect

    before = stack.stats()["functions"]["OnebotGroupBanFunction"]["invocations"]
    assert stack.send(EVENTS / "onebot_group_ban.json")[0] == 204
    stack.wait_for(lambda s: s["functions"]["OnebotGroupBanFunction"]["invocations"] > before)
    headers = {"X-Self-ID": "123456789", "X-Client-Role": "Universal", "Authorization": "Token relay-token"}
    with connect(stack.state["relay_onebot"], additional_headers=headers, proxy=None):
        stack.wait(lambda: "connected as Universal" in stack.log(), 10, "the relay's connect line")
    stack.proc.send_signal(signal.SIGINT)
    stack.proc.wait(timeout=30)
    out = stack.log()
    assert stack.proc.returncode == 0, out
    assert "stopped" in out and "Traceback" not in out
    assert "<- POST /onebot notice.group_ban 204" in out
    assert "-> OnebotGroupBanFunction notice.group_ban" in out
    assert "qqbus-dev-onebot" in out  # the dev secrets are printed at start
    assert "~~ relay: OneBot 123456789 connected as Universal" in out  # the relay test's connection
    assert "ColdStart" not in out  # no metric lines without --verbose
    assert not stack.state_file.exists()


INGRESS = ("QqWebhookFunction", "OnebotHttpFunction")
SENDER_FUNCTIONS = ("QqSenderFunction", "OnebotSenderFunction")


def _accepted(received: list[dict[str, Any]]) -> int:
    """The requests a fake platform API accepted (a token request and a refused repeat are not)."""
    return sum(1 for r in received if r.get("status", 200) < 300 and "Token" not in str(r.get("path")))


def _folder(logical_id: str) -> str:
    from qqbus_dev.template import Template

    return next(
        fn.folder for fn in Template.read(REPO / "template.yaml").functions() if fn.logical_id == logical_id
    )


def _event_functions(stats: dict[str, Any]) -> list[str]:
    """The functions `_send_all` sends an event to (those of other sources, such as results or
    schedules, run only when something asks for them)."""
    from qqbus_dev.template import Template

    sent = {*CONTRACT, *SUB_TYPES}
    ours = {fn.logical_id for fn in Template.read(REPO / "template.yaml").functions() if fn.folder in sent}
    return [name for name in stats["functions"] if name in ours]


def _bus_functions(stats: dict[str, Any]) -> dict[str, Any]:
    return {name: v for name, v in stats["functions"].items() if name not in INGRESS}


def test_ctrl_c_stops_a_stack_started_with_sigint_ignored(tmp_path: Path) -> None:
    """nohup and `&` in scripts start a process with SIGINT ignored: the stack still stops on it."""
    log = tmp_path / "log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GROUPS_", "IDEMPOTENCY_"))}
    command = [sys.executable, "-m", "qqbus_dev", "dev", "--port", "0", "--aws-port", "0"]
    command += ["--state-file", str(tmp_path / "dev.json")]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "dev.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "stopped" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
