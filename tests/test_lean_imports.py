"""A Lambda imports only what it uses (cold start): each handler, in a fresh interpreter, builds
the event models of its own kind and no other, and a run that asks for no action never imports
the action models (``qqbus.actions``, ``qqbus.publish``).

Structural, not timed: which modules are loaded is what fails here; how long they take is
``bench/bench_cold_start.py``'s question.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import EVENTS, HANDLERS, REPO

#: The built-in functions whose runs only write state: they must never load the action models.
#: (Named, not found: a handler a user adds with ``qqbus new handler`` is theirs to shape.)
STATE_HANDLERS = (
    "onebot_friend_add",
    "onebot_group_admin",
    "onebot_group_ban",
    "onebot_group_decrease",
    "onebot_group_increase",
    "qq_c2c_msg_receive",
    "qq_c2c_msg_reject",
    "qq_friend_add",
    "qq_friend_del",
    "qq_group_add_robot",
    "qq_group_del_robot",
    "qq_group_msg_receive",
    "qq_group_msg_reject",
)

PROBE = r"""
import importlib.util, json, os, sys
import boto3
from moto import mock_aws

folder, event_path = sys.argv[1], sys.argv[2]
with mock_aws():
    from qqbus_dev.provision import create_tables, local_refs
    from qqbus_dev.template import Template

    template = Template.read()
    refs = local_refs(template, "us-east-1", "lean")
    names = create_tables(template, boto3.client("dynamodb"), refs)
    os.environ["GROUPS_TABLE_NAME"] = refs["GroupsTable"]
    os.environ["USERS_TABLE_NAME"] = refs["UsersTable"]
    os.environ["EVENT_BUS_NAME"] = boto3.client("events").create_event_bus(Name="lean")["EventBusArn"]
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location("app", os.path.join(folder, "app.py"))
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    imported = sorted(m for m in set(sys.modules) - before if m.startswith("qqbus."))
    from qqbus_dev.lambda_context import LocalContext

    result = app.lambda_handler(json.load(open(event_path, encoding="utf-8")), LocalContext())
    after = sorted(m for m in sys.modules if m.startswith("qqbus."))
print(json.dumps({"imported": imported, "after_run": after, "result": result}))
"""


def probe(folder: str, **extra_env: str) -> dict[str, object]:
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "lean",
        "AWS_SECRET_ACCESS_KEY": "lean",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    for name in ("IDEMPOTENCY_TABLE_NAME", "EVENT_BUS_NAME", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(HANDLERS / folder), str(EVENTS / f"{folder}.json")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def event_kinds(modules: object) -> set[str]:
    assert isinstance(modules, list)
    return {m for m in modules if m.startswith(("qqbus.events.qq_", "qqbus.events.onebot_"))}


def test_the_list_is_every_built_in_state_handler() -> None:
    found = {
        p.parent.name
        for p in HANDLERS.glob("*/app.py")
        if "qqbus.state" in p.read_text() and "reply(" not in p.read_text()
    }
    assert found >= set(STATE_HANDLERS)  # each still writes state and asks for nothing
    assert all((EVENTS / f"{name}.json").is_file() for name in STATE_HANDLERS)


@pytest.mark.parametrize("folder", STATE_HANDLERS)
def test_a_state_handler_builds_its_own_kind_of_model_and_no_action_model(folder: str) -> None:
    seen = probe(folder)
    result = seen["result"]
    # It did its work: ``Written`` (a tuple of what each change wrote) with a write in it.
    assert isinstance(result, list) and any(result), result
    kinds = event_kinds(seen["imported"])
    protocol = "qq" if folder.startswith("qq_") else "onebot"
    # The envelope, and the one module of its model's kind: not the other protocol, not the rest.
    assert f"qqbus.events.{protocol}_envelope" in kinds, kinds
    assert len(kinds) == 2, kinds
    for loaded in (seen["imported"], seen["after_run"]):
        assert isinstance(loaded, list)
        assert "qqbus.actions" not in loaded
        assert "qqbus.publish" not in loaded
        assert event_kinds(loaded) == kinds


def test_a_reply_imports_the_action_models_when_asked() -> None:
    seen = probe("onebot_group_request", QQBUS_GROUP_REQUEST_POLICY="approve")  # asks set_group_add_request
    assert "qqbus.actions" not in seen["imported"]  # type: ignore[operator]
    assert "qqbus.actions" in seen["after_run"]  # type: ignore[operator]
