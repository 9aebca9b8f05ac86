"""Commands end to end on `qqbus dev`, QQ and OneBot: signed request -> ingress -> bus -> handler
-> router -> action -> sender -> the fake platform API, and the switches in the groups table.

The stack runs a copy of template.yaml whose ``CommandAdmins`` parameter lists one QQ openid (QQ
messages carry no role: only listed ids may switch commands there); OneBot admins come from
``sender.role``.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from qqbus_dev.send import event_id_of, prepare

from tests.local.stacks import Stack, running_stack
from tests.support import REPO, event_file

QQ_ADMIN = "0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A"
QQ_MEMBER = "E4F4AEA33253A2797FB897C50B81D7ED"
QQ_GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
ONEBOT_GROUP = "987654321"
FILES = {
    "qq_group": "qq_group_at_message_create",
    "qq_c2c": "qq_c2c_message_create",
    "onebot_group": "onebot_group_message",
    "onebot_private": "onebot_private_message",
}
_n = itertools.count(1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("commands")
    text = (REPO / "template.yaml").read_text(encoding="utf-8")
    default = '  CommandAdmins:\n    Type: String\n    Default: ""\n'
    assert text.count(default) == 1, "template.yaml: the CommandAdmins parameter moved"
    (tmp / "template.yaml").write_text(text.replace(default, default.replace('""', f'"{QQ_ADMIN}"')))
    (tmp / "handlers").symlink_to(REPO / "handlers")
    with running_stack(tmp, "--template", str(tmp / "template.yaml")) as running:
        yield running


def say(
    stack: Stack,
    kind: str,
    message: str | list[dict[str, Any]],
    *,
    user: str | None = None,
    role: str = "member",
) -> str:
    """Send one new message of ``kind``; the text of the one reply the fake platform API received."""
    payload = copy.deepcopy(event_file(FILES[kind])["detail"]["payload"])
    if kind.startswith("qq"):
        payload["id"] = f"{payload['t']}:{uuid.uuid4()}"
        payload["d"].update(id=f"ROBOT1.0_{uuid.uuid4().hex}", content=message)
        if user:
            payload["d"]["author"] = {"member_openid" if kind == "qq_group" else "user_openid": user}
        api = "qq"
    else:
        payload.update(message=message, message_id=next(_n) * 1000 + 7)
        if kind == "onebot_group":
            payload["sender"]["role"] = role
        api = "onebot"
    prepared = prepare(json.dumps(payload, ensure_ascii=False).encode(), fresh_time=True)
    before = len(stack.fake(api))
    assert stack.send(prepared.body)[0] in (200, 204)
    trace = stack.trace(event_id_of(prepared.path, prepared.body) or "")
    assert [a["result"]["outcome"] for a in trace["actions"].values()] == ["sent"], trace
    (request,) = [r for r in stack.fake(api)[before:] if not r["path"].startswith("/app/")]
    if api == "qq":
        return str(request["body"]["content"])
    return "".join(s["data"].get("text", "") for s in request["body"]["message"])


def next_second(after: float) -> None:
    """Wait until the clock is in a later second than ``after``: a switch and its undoing in one
    second are a tie, which "off" wins (the groups table's rule), so the test waits it out."""
    while int(time.time()) <= int(after):
        time.sleep(0.05)


def disabled_in(stack: Stack, group_id: str) -> list[str]:
    dynamodb = stack.client("dynamodb")
    items = dynamodb.scan(TableName=stack.state["groups_table"])["Items"]
    (item,) = [i for i in items if i["group_id"]["S"] == group_id]
    return sorted(k for k, v in item.items() if k.startswith("disabled(") and v == {"BOOL": True})


@pytest.mark.parametrize("kind", list(FILES))
def test_arguments_aliases_quotes_and_mistakes_on_both_protocols(stack: Stack, kind: str) -> None:
    first, _, rest = say(stack, kind, "/r 2d6").partition(": ")
    assert first == "2d6" and rest.count("+") == 1
    assert say(stack, kind, '/echo "quoted"  as typed') == '"quoted"  as typed'
    assert say(stack, kind, "/roll many") == "'many': expected dice like 2d6\nusage: /roll <NdM>"
    assert say(stack, kind, "/pnig") == "unknown command /pnig - did you mean /ping?"


@pytest.mark.parametrize(
    "kind, message, expected",
    [
        ("qq_group", "/id <@OTHER0PENID0000>", "id: OTHER0PENID0000"),
        ("qq_c2c", "/id", f"your id: {QQ_MEMBER}"),
        (
            "onebot_group",
            [
                {"type": "at", "data": {"qq": "123456789"}},
                {"type": "text", "data": {"text": " /id "}},
                {"type": "at", "data": {"qq": "555"}},
            ],
            "id: 555",
        ),
        ("onebot_private", "/id [CQ:at,qq=556]", "id: 556"),
    ],
)
def test_a_mention_is_a_user_argument_on_both_protocols(
    stack: Stack, kind: str, message: Any, expected: str
) -> None:
    assert say(stack, kind, message) == expected


def test_qq_group_switches_need_a_listed_admin(stack: Stack) -> None:
    assert say(stack, "qq_group", "/disable roll") == "not allowed: /disable is for group admins"
    assert say(stack, "qq_group", "/disable roll", user=QQ_ADMIN) == "/roll is disabled in this group"
    switched = time.time()
    assert disabled_in(stack, QQ_GROUP) == ["disabled(roll)"]
    assert say(stack, "qq_group", "/roll 1d6") == "/roll is disabled in this group"
    assert "/roll" not in say(stack, "qq_group", "/help")
    assert "/disable" in say(stack, "qq_group", "/help", user=QQ_ADMIN)
    assert say(stack, "qq_c2c", "/roll 1d6").startswith("1d6: ")  # C2C: no group switch applies
    assert say(stack, "qq_c2c", "/disable roll", user=QQ_ADMIN) == "/disable works in groups only"
    next_second(switched)
    assert say(stack, "qq_group", "/enable roll", user=QQ_ADMIN) == "/roll is enabled in this group"
    assert disabled_in(stack, QQ_GROUP) == []
    assert say(stack, "qq_group", "/roll 1d6").startswith("1d6: ")


def test_onebot_group_switches_follow_sender_role(stack: Stack) -> None:
    assert (
        say(stack, "onebot_group", "/disable echo", role="member")
        == "not allowed: /disable is for group admins"
    )
    assert say(stack, "onebot_group", "/disable echo", role="admin") == "/echo is disabled in this group"
    switched = time.time()
    assert disabled_in(stack, ONEBOT_GROUP) == ["disabled(echo)"]
    assert say(stack, "onebot_group", "/echo hi") == "/echo is disabled in this group"
    assert say(stack, "onebot_private", "/echo hi") == "hi"  # private: no group switch applies
    next_second(switched)
    assert say(stack, "onebot_group", "/enable echo", role="owner") == "/echo is enabled in this group"
    assert say(stack, "onebot_group", "/echo hi") == "hi"
