"""`qqbus send`: each send is a new event (an edited copy of an events file is not a duplicate of
the original), `--keep-id` sends the file's id to try a duplicate, and a duplicate never shows an
earlier run's reply as its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from qqbus.detail import onebot_event_id
from qqbus_dev.send import event_id_of, prepare

from tests.local.stacks import Stack, running_stack
from tests.support import EVENTS, REPO


def payload_of(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))["detail"]["payload"]


def test_a_qq_send_is_a_new_event_and_message_unless_kept() -> None:
    raw = (EVENTS / "qq_group_at_message_create.json").read_bytes()
    original = payload_of("qq_group_at_message_create")
    first, second = (json.loads(prepare(raw, fresh_id=True).body) for _ in range(2))
    assert len({original["id"], first["id"], second["id"]}) == 3
    assert first["id"].startswith("GROUP_AT_MESSAGE_CREATE:")
    assert len({original["d"]["id"], first["d"]["id"], second["d"]["id"]}) == 3  # its reply slots too
    assert first["d"]["content"] == original["d"]["content"]
    kept = json.loads(prepare(raw, fresh_id=False, fresh_time=True).body)
    assert (kept["id"], kept["d"]["id"]) == (original["id"], original["d"]["id"])
    assert kept["d"]["timestamp"] != original["d"]["timestamp"]  # the time is still now


def test_a_onebot_send_is_a_new_message_unless_kept() -> None:
    raw = (EVENTS / "onebot_group_message.json").read_bytes()
    original = payload_of("onebot_group_message")
    fresh = [prepare(raw, fresh_id=True) for _ in range(2)]
    assert fresh[0].body != fresh[1].body
    assert len({json.loads(p.body)["message_id"] for p in fresh} | {original["message_id"]}) == 3
    # OneBot's id is the body's hash: --keep-id keeps the body, time included, so it repeats
    kept = [prepare(raw, fresh_id=False, fresh_time=True) for _ in range(2)]
    assert kept[0].body == kept[1].body and json.loads(kept[0].body) == original
    assert event_id_of("/onebot", kept[0].body) == onebot_event_id(kept[1].body)


# --- on a running `qqbus dev`, through the real command -----------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("send")) as running:
        yield running


def send(stack: Stack, path: Path, *args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "qqbus_dev", "send", str(path), "--url", stack.http, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stdout + done.stderr
    return done.stdout.splitlines()


def edited_copy(tmp: Path, text: str) -> Path:
    event = json.loads((EVENTS / "qq_group_at_message_create.json").read_text(encoding="utf-8"))
    event["detail"]["payload"]["d"]["content"] = f" {text}"
    path = tmp / "mine.json"
    path.write_text(json.dumps(event, ensure_ascii=False), encoding="utf-8")
    return path


def replies(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip().startswith(("asks ", "=> "))]


def test_an_edited_copy_is_answered_as_a_new_event(stack: Stack, tmp_path: Path) -> None:
    pinged = send(stack, EVENTS / "qq_group_at_message_create.json")
    assert "=> pong (passive, msg_seq 1)" in [line.strip() for line in pinged], pinged
    helped = send(stack, edited_copy(tmp_path, "/help"))  # the original's id, edited: a new event
    assert not any("duplicate" in line for line in helped), helped
    assert replies(helped) and not any("pong" in line for line in replies(helped)), helped
    again = send(stack, edited_copy(tmp_path, "/ping"))  # a new message: a new reply slot, msg_seq 1
    assert "=> pong (passive, msg_seq 1)" in [line.strip() for line in again], again


def test_keep_id_shows_a_duplicate_and_nothing_of_the_earlier_run(stack: Stack, tmp_path: Path) -> None:
    path = edited_copy(tmp_path, "/ping")
    first = send(stack, path, "--keep-id")
    assert any(line.strip().startswith("=> pong") for line in first), first
    path.write_text(path.read_text(encoding="utf-8").replace("/ping", "/help"), encoding="utf-8")
    second = send(stack, path, "--keep-id")  # the same id: a duplicate, whatever it says now
    assert any("sent before" in line for line in second), second
    # the message handler keeps no lock record: it runs again, and asks for an action with the
    # first run's id, which the sender has performed already
    assert any("QqSenderFunction" in line and "duplicate" in line for line in second), second
    assert replies(second) == [], second  # not the first run's "pong"
    assert not any(line.startswith("-> QqSenderFunction") for line in second), second


def test_keep_id_repeats_a_onebot_event(stack: Stack) -> None:
    first = send(stack, EVENTS / "onebot_group_ban.json", "--keep-id")
    assert not any("duplicate" in line for line in first), first
    second = send(stack, EVENTS / "onebot_group_ban.json", "--keep-id")
    # a state handler keeps no lock record: its conditional write refuses the repeat
    assert any("OnebotGroupBanFunction" in line and "unchanged: a duplicate" in line for line in second), (
        second
    )
