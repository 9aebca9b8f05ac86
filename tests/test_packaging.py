"""Each handler runs as Lambda loads it: its own folder and the layer, nothing from the repo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.support import ACTION_ASKERS, CONTRACT, EVENTS, HANDLERS, REPO, SENDERS, STATE_WRITERS

LAYER = REPO / "layers" / "qqbus"

# Runs in a fresh interpreter with sys.path = [handler folder, layer, site-packages] only.
SCRIPT = r"""
import json, sys
handler_dir, layer, site, event_path = sys.argv[1:5]
stdlib = [p for p in sys.path if p.endswith(".zip") or p.rstrip("/").endswith(("lib-dynload", "python3.11",
          "python3.12", "python3.13"))]
sys.path[:] = [handler_dir, layer, site, *stdlib]
import boto3
from moto import mock_aws
from qqbus.local.provision import create_bus_and_routes, create_tables, local_refs
from qqbus.local.template import Template

with mock_aws():
    template = Template.read()
    refs = local_refs(template, "us-east-1", stage="pkg")
    create_tables(template, boto3.client("dynamodb"), refs)
    routes = create_bus_and_routes(template, boto3.client("events"), boto3.client("sqs"), refs)
    import app
    import qqbus
    from qqbus.lambda_context import LocalContext

    event = json.load(open(event_path, encoding="utf-8"))
    result = app.lambda_handler(event, LocalContext(function_name="packaging"))
    groups = boto3.client("dynamodb").scan(TableName="qqbus-pkg-groups")["Items"]
    sqs = boto3.client("sqs")
    on_bus = {k: len(sqs.receive_message(QueueUrl=u, MaxNumberOfMessages=10).get("Messages", []))
              for k, u in {**routes.function_queues, **routes.catch_all_queues}.items()}
    report = {"qqbus": qqbus.__file__, "app": app.__file__, "result": result, "groups": len(groups),
              "on_bus": {k: v for k, v in on_bus.items() if v}, "tests_loaded": "tests" in sys.modules}
    print("RESULT " + json.dumps(report, default=str))
"""


@pytest.mark.parametrize("name", sorted({**CONTRACT, **SENDERS}))
def test_handler_runs_with_only_its_folder_and_the_layer(name: str, tmp_path: Path) -> None:
    drop = ("PYTHON", "GROUPS_", "IDEMPOTENCY_", "ACTIONS_", "EVENT_BUS", "ONEBOT_", "QQ_", "RELAY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)} | {
        "GROUPS_TABLE_NAME": "qqbus-pkg-groups",
        "IDEMPOTENCY_TABLE_NAME": "qqbus-pkg-idempotency",
        "ACTIONS_TABLE_NAME": "qqbus-pkg-actions",
        "EVENT_BUS_NAME": "qqbus-pkg",
        "AWS_LAMBDA_FUNCTION_NAME": name,
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            SCRIPT,
            str(HANDLERS / name),
            str(LAYER),
            sysconfig.get_paths()["purelib"],
            str(EVENTS / f"{name}.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    got = json.loads(line[len("RESULT ") :])
    assert Path(got["qqbus"]).resolve().is_relative_to(LAYER.resolve())
    assert Path(got["app"]).resolve() == (HANDLERS / name / "app.py").resolve()
    assert got["tests_loaded"] is False
    assert (got["groups"] > 0) == (name in STATE_WRITERS)
    if name in ACTION_ASKERS:  # the events/ file holds a /ping: one action, for its sender
        assert sum(got["on_bus"].values()) == 1 and set(got["on_bus"]) <= {
            "QqSenderFunction",
            "OnebotSenderFunction",
        }
    elif name in SENDERS:  # no state and no API configured: a result (refused or failed), nothing sent
        assert got["on_bus"] == {"ActionResultsRule": 1}, got
        assert got["result"]["status"] in ("refused", "failed")
    else:
        assert got["on_bus"] == {}


def test_layer_requirements_match_the_package_dependencies() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    layer = [
        line.strip()
        for line in (LAYER / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # boto3 is in the Lambda runtime; everything else the package needs, the layer ships.
    assert sorted(layer) == sorted(d for d in project["dependencies"] if not d.startswith("boto3"))
