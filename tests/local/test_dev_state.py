"""The developer loop of `qqbus dev`: live reload, state that survives a restart, one stack per state file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from qqbus_dev import persistence
from qqbus_dev.functions import CodeWatch, LocalFunction
from qqbus_dev.state_file import StateFileTaken, claim, read_state
from qqbus_dev.template import FunctionSpec, load

from tests.local.stacks import Stack, running_stack
from tests.support import EVENTS, REPO

# --- the pieces, in-process ---------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def test_a_save_puts_back_items_and_messages_with_their_attributes(aws: None, tmp_path: Path) -> None:
    ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    ddb.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    items = [
        {"k": {"S": f"key{i}"}, "n": {"N": str(i)}, "m": {"M": {"b": {"BOOL": True}}}} for i in range(30)
    ]
    for item in items:
        ddb.put_item(TableName="t", Item=item)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    attributes = {"ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"}}
    for i in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": i}), MessageAttributes=attributes)

    saved = persistence.Saved(
        tables=persistence.dump_tables(ddb, ["t"]), queues=persistence.dump_queues(sqs, {"q": url})
    )
    persistence.write(tmp_path / "data.json", saved)
    # Reading did not consume: every message is still there, and visible.
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert len(again) == 10

    ddb.delete_table(TableName="t")
    sqs.delete_queue(QueueUrl=url)
    ddb.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    url = sqs.create_queue(QueueName="q2")["QueueUrl"]
    loaded = persistence.read(tmp_path / "data.json")
    assert loaded is not None
    problems = persistence.load_tables(ddb, {**loaded.tables, "gone": [{"k": {"S": "x"}}]}, ["t"])
    problems += persistence.load_queues(sqs, {"q2": loaded.queues["q"], "gone": [{"Body": "x"}]}, {"q2": url})
    assert problems == [
        "table gone is not in the template any more (1 items left out)",
        "queue gone is not in the template any more (1 messages left out)",
    ]
    scanned = ddb.scan(TableName="t")["Items"]
    assert sorted(scanned, key=lambda i: int(i["n"]["N"])) == items
    bodies = persistence.peek(sqs, url)
    assert sorted(json.loads(m["Body"])["n"] for m in bodies) == list(range(12))
    assert all(m["MessageAttributes"] == attributes for m in bodies)


def test_no_save_is_none_and_a_foreign_file_is_refused(tmp_path: Path) -> None:
    assert persistence.read(tmp_path / "none.json") is None
    (tmp_path / "other.json").write_text('{"tables": {}}')
    with pytest.raises(ValueError, match="not a qqbus dev save"):
        persistence.read(tmp_path / "other.json")


def test_a_state_file_has_one_owner_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    held = claim(path)
    path.write_text(json.dumps({"pid": 4242, "http": "http://127.0.0.1:3999"}))
    with pytest.raises(StateFileTaken) as refused:
        claim(path)
    message = str(refused.value)
    assert "pid 4242" in message and "http://127.0.0.1:3999" in message and "--state-dir" in message
    assert "\n" not in message
    held.release()
    claim(path).release()  # free again once its owner let go


def _function(tmp: Path, watch: CodeWatch) -> LocalFunction:
    spec = FunctionSpec(logical_id="F", code_uri="fn", handler="app.lambda_handler", environment={})
    return LocalFunction(spec, {}, tmp, watch)


def _touch_later(path: Path, text: str) -> None:
    """Write ``text`` with an mtime that differs from the one before, however coarse the clock."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:
        time.sleep(0.01)
        path.write_text(text)


def test_a_changed_handler_or_shared_package_runs_on_the_next_invocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared package stands in for qqbus: its module state (a registry) is built afresh."""
    package = tmp_path / "lib" / "sharedpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("REGISTRY = []\nWORD = 'one'\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    changes: list[list[Path]] = []
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("")
    watch = CodeWatch([tmp_path / "fn"], packages={"sharedpkg": package}, on_change=changes.append)
    code = textwrap.dedent(
        """
        import sharedpkg
        sharedpkg.REGISTRY.append("{reply}")  # declared twice in one registry would be an error

        def lambda_handler(event, context):
            return [sharedpkg.WORD, "{reply}", len(sharedpkg.REGISTRY)]
        """
    )
    (tmp_path / "fn" / "app.py").write_text(code.format(reply="first"))
    watch.check()  # as the stack starts: the watch sees the files the functions load
    changes.clear()
    fn = _function(tmp_path, watch)
    assert fn.invoke({}) == ["one", "first", 1]
    assert fn.invoke({}) == ["one", "first", 1] and changes == []

    _touch_later(tmp_path / "fn" / "app.py", code.format(reply="second"))
    assert fn.invoke({}) == ["one", "second", 1]
    assert changes == [[tmp_path / "fn" / "app.py"]]

    _touch_later(package / "__init__.py", "REGISTRY = []\nWORD = 'two'\n")
    assert fn.invoke({}) == ["two", "second", 1]

    _touch_later(tmp_path / "fn" / "app.py", "def lambda_handler(event, context):\n    return (\n")
    with pytest.raises(SyntaxError):
        fn.invoke({})
    with pytest.raises(SyntaxError):  # still broken: it tries again, and fails again
        fn.invoke({})
    _touch_later(tmp_path / "fn" / "app.py", code.format(reply="third"))
    assert fn.invoke({}) == ["two", "third", 1]
    del sys.modules["sharedpkg"]


# --- the stack, end to end -----------------------------------------------------------------------

REPLY = '''"""message.group: answers every message with one line."""

from qqbus.events.onebot import GroupMessage
from qqbus.handler import Delivered, handler


@handler(GroupMessage)
def lambda_handler(ev: Delivered[GroupMessage], context: object) -> None:
    ev.reply("{text}")
'''

BOOM = """def lambda_handler(event, context):
    raise RuntimeError("boom")
"""


def _template(tmp: Path, replaced: dict[str, str]) -> Path:
    """The repository's template, with the code of the functions in ``replaced`` in ``tmp``."""
    data = load()
    for res in data["Resources"].values():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = str(REPO / props[key])
    for logical_id, code in replaced.items():
        folder = tmp / logical_id
        folder.mkdir(exist_ok=True)
        (folder / "app.py").write_text(code)
        data["Resources"][logical_id]["Properties"]["CodeUri"] = str(folder)
    path = tmp / "template.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _group_message(text: str, message_id: int) -> bytes:
    payload = json.loads((EVENTS / "onebot_group_message.json").read_text())["detail"]["payload"]
    payload.update(time=int(time.time()), message_id=message_id, message=text, raw_message=text)
    return json.dumps(payload).encode()


def _replies(stack: Stack) -> list[str]:
    said = []
    for request in stack.fake("onebot"):
        body = request.get("body") or {}
        if isinstance(body, dict) and isinstance(body.get("message"), list):
            said += [s["data"].get("text", "") for s in body["message"] if s.get("type") == "text"]
    return said


def test_an_edited_handler_answers_the_next_event_without_a_restart(tmp_path: Path) -> None:
    template = _template(tmp_path, {"OnebotGroupMessageFunction": REPLY.format(text="first reply")})
    app = tmp_path / "OnebotGroupMessageFunction" / "app.py"
    with running_stack(tmp_path, "--template", str(template), "--fresh") as stack:
        assert stack.send(_group_message("hello", 1001))[0] == 204
        stack.wait(lambda: "first reply" in _replies(stack), 30, "the first reply")

        _touch_later(app, REPLY.format(text="second reply"))
        assert stack.send(_group_message("hello again", 1002))[0] == 204
        stack.wait(lambda: "second reply" in _replies(stack), 30, "the edited handler's reply")
        assert _replies(stack).count("first reply") == 1
        assert "~~ reload: " in stack.log() and "OnebotGroupMessageFunction/app.py changed" in stack.log()

        _touch_later(template, template.read_text() + "\n# edited\n")
        stack.wait(lambda: "template.yaml changed" in stack.log(), 10, "the restart notice")
        out = stack.stop()
    assert "restart `make dev`" in out and "Traceback" not in out


def test_tables_queues_and_console_users_survive_a_restart_and_fresh_starts_empty(tmp_path: Path) -> None:
    template = _template(tmp_path, {"OnebotFriendAddFunction": BOOM})
    args = ("--template", str(template))
    with running_stack(tmp_path, *args) as stack:
        assert "nothing saved yet" in stack.log()
        assert stack.send(EVENTS / "qq_group_add_robot.json")[0] == 200
        person = _console_post(stack, "users", {"protocol": "onebot", "name": "Zed"})
        group = _console_post(stack, "groups", {"protocol": "onebot", "name": "Night shift"})
        friend = json.loads((EVENTS / "onebot_friend_add.json").read_text())["detail"]["payload"]
        assert stack.send(json.dumps(friend).encode())[0] == 204  # fails three times: parked
        stack.wait_for(lambda s: s["functions"]["OnebotFriendAddFunction"]["dead_lettered"] == 1)
        stack.wait_for(lambda s: s["functions"]["QqGroupAddRobotFunction"]["ok"] == 1)
        rows_before = _groups(stack)
        done_before = _items(stack, "qqbus-local-idempotency")
        assert rows_before
        # Saved a second after the change, while it runs (a crash loses little).
        stack.wait(lambda: _saved_groups(tmp_path) == len(rows_before), 10, "the periodic save")
        out = stack.stop()
    assert "saved " in out and "1 queued message" in out

    with running_stack(tmp_path, *args) as again:
        assert "loaded " in again.log()
        assert _groups(again) == rows_before
        people = _console_get(again, "snapshot")
        assert (person["id"], "Zed") in {(p["id"], p["name"]) for p in people["people"]}
        assert (group["id"], "Night shift") in {(g["id"], g["name"]) for g in people["groups"]}
        added = _console_post(again, "users", {"protocol": "onebot", "name": "New"})
        assert added["id"] not in {p["id"] for p in people["people"]}  # new numbers, no clash
        failures = _console_get(again, "failures")
        parked = [m for q in failures["queues"] for m in q["messages"]]
        assert [m["function"] for m in parked] == ["OnebotFriendAddFunction"]
        assert "boom" in parked[0]["error"]
        assert _items(again, "qqbus-local-idempotency") == done_before  # what ran stays done
        again.stop()

    with running_stack(tmp_path, *args, "--fresh") as fresh:
        assert "--fresh: started empty" in fresh.log()
        assert _groups(fresh) == []
        assert person["id"] not in {p["id"] for p in _console_get(fresh, "snapshot")["people"]}
        fresh.stop()


def test_a_second_stack_on_the_same_state_file_is_refused_and_its_own_folder_works(tmp_path: Path) -> None:
    with running_stack(tmp_path) as first:
        command = [sys.executable, "-m", "qqbus_dev", "dev", "--port", "0", "--aws-port", "0"]
        command += ["--project", str(REPO)]
        refused = subprocess.run(
            [*command, "--state-file", str(first.state_file)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert refused.returncode == 2, refused.stdout + refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert f"pid {first.proc.pid}" in line and first.http in line and "--state-dir" in line
        assert read_state(first.state_file)["pid"] == first.proc.pid  # untouched
        assert first.stats()["requests"] == 0  # and still serving

        second_dir = tmp_path / "second"
        second_dir.mkdir()
        with running_stack(second_dir, "--state-dir", str(second_dir)) as second:
            assert second.http != first.http
            second.stop()
        assert not (second_dir / "dev.json").exists()
        assert read_state(first.state_file)["pid"] == first.proc.pid
        assert first.stats()["requests"] == 0
        first.stop()
    assert not first.state_file.exists()


def _groups(stack: Stack) -> list[dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=stack.state["groups_table"])["Items"]
    return sorted(items, key=lambda i: (i["bot_id"]["S"], i["group_id"]["S"]))


def _items(stack: Stack, table: str) -> list[dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=table)["Items"]
    return sorted(items, key=json.dumps)


def _saved_groups(tmp: Path) -> int:
    try:
        saved = persistence.read(tmp / "dev-data.json")
    except ValueError:
        return -1
    return len(saved.tables.get("qqbus-local-groups", [])) if saved else -1


def _console_get(stack: Stack, name: str) -> Any:
    return stack.get(f"/console/api/{name}")


def _console_post(stack: Stack, name: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{stack.http}/console/api/{name}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())
