"""/remind on `make dev`: acknowledged at once, listed by `qqbus schedules`, posted once when due
(the stack fires moto's schedules on its own clock), and the template's recurring one is there."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from qqbus_dev.send import prepare

from tests.local.stacks import Stack, running_stack
from tests.support import event_file


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("schedules")) as running:
        yield running


def _texts(stack: Stack) -> list[str]:
    return [
        "".join(s["data"].get("text", "") for s in r["body"]["message"])
        for r in stack.fake("onebot")
        if r["path"] == "/send_group_msg"
    ]


def _schedules(stack: Stack) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "qqbus_dev", "schedules", "--json", "--state-file", str(stack.state_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def test_remind_posts_the_text_once_after_the_delay(stack: Stack) -> None:
    payload = event_file("onebot_group_message")["detail"]["payload"]
    payload["message"] = payload["raw_message"] = "/remind 3s drink water"
    prepared = prepare(json.dumps(payload).encode(), fresh_time=True)
    assert stack.send(prepared.body)[0] == 204
    stack.wait(lambda: "ok, in 3s: drink water" in _texts(stack), 20, "the acknowledgement")
    steps = {row["step"] for row in _schedules(stack)}
    assert {"remind.fire", "heartbeat"} <= steps
    stack.wait(lambda: "drink water" in _texts(stack), 20, "the reminder")
    time.sleep(1.5)
    assert _texts(stack).count("drink water") == 1
    assert "remind.fire" not in {row["step"] for row in _schedules(stack)}  # deleted once it fired
    assert "schedule qqbus-" in stack.log() and "fired (remind.fire)" in stack.log()


def test_schedules_prints_for_people(stack: Stack) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "qqbus_dev", "schedules", "--state-file", str(stack.state_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "rate(1 hour)  heartbeat" in out
    assert Path(stack.state_file).exists()


def test_whois_asks_the_onebot_api_and_answers_in_the_group(stack: Stack) -> None:
    payload = event_file("onebot_group_message")["detail"]["payload"]
    payload["message"] = payload["raw_message"] = "/whois"
    prepared = prepare(json.dumps(payload).encode(), fresh_time=True)
    assert stack.send(prepared.body)[0] == 204
    user = payload["user_id"]
    answer = f"{user}: user{user}, role: member"  # the fake API makes every user a member
    stack.wait(lambda: answer in _texts(stack), 20, "the /whois answer")
    (asked,) = [r for r in stack.fake("onebot") if r["path"] == "/get_group_member_info"]
    assert asked["body"] == {"group_id": payload["group_id"], "user_id": user, "no_cache": True}
