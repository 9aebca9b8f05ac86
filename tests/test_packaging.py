"""Each function runs as Lambda loads it: its own folder and its built layers, nothing else of ours.

The layers are built by their Makefile (as `sam build` does; SKIP_DEPS: the third-party
packages come from this venv), the AWS side is a moto server in this process, and each function
runs in a fresh interpreter that has never imported moto: an import of anything its layers do
not ship (qqbus_dev, qqbus_relay, the CLI, yaml, websockets, moto, and cryptography outside the
function that has the crypto layer) fails the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from qqbus_dev.functions import DevSecrets, function_environment
from qqbus_dev.provision import create_queues, create_tables, local_refs
from qqbus_dev.template import FunctionSpec, Template

from tests.support import (
    ACTION_ASKERS,
    EVENTS,
    HANDLERS,
    REPO,
    SENDERS,
    STATE_WRITERS,
    USERS_WRITERS,
    handler_folders,
)

LAYERS_SRC = REPO / "layers" / "qqbus"
LAYER_IDS = ("QqbusLayer", "CryptoLayer")

# Runs the functions of one set of layers, one after the other, in a fresh interpreter whose
# sys.path is [the function's folder, the layers, site-packages, stdlib], behind an import guard.
SCRIPT = r"""
import importlib.abc, importlib.util, json, os, sys
site, plan_path, forbidden = sys.argv[1:4]
stdlib = [p for p in sys.path if p.endswith(".zip") or p.rstrip("/").endswith(("lib-dynload", "python3.11",
          "python3.12", "python3.13"))]
layers = os.environ["QQBUS_TEST_LAYERS"].split(os.pathsep)
FORBIDDEN = forbidden.split(",")

class NotInTheLayers(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
            raise ImportError(f"{name} is not in this function's layers")
        return None

sys.meta_path.insert(0, NotInTheLayers())
base_env = dict(os.environ)
for item in json.load(open(plan_path, encoding="utf-8")):
    os.environ.clear()
    os.environ.update({**base_env, **item["env"]})
    sys.path[:] = [item["dir"], *layers, site, *stdlib]
    spec = importlib.util.spec_from_file_location("app_" + item["name"], item["dir"] + "/app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    import qqbus
    from qqbus import aws

    class Context:  # what Lambda hands a handler (the dev tools' LocalContext is not in the layers)
        function_name, function_version, memory_limit_in_mb = "packaging", "$LATEST", 256
        aws_request_id, log_group_name, log_stream_name = "req-1", "/aws/lambda/packaging", "local"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:packaging"

        def get_remaining_time_in_millis(self):
            return 30000

    aws.reset()  # each function its own clients and caches, as in its own container
    event = json.load(open(item["event"], encoding="utf-8"))
    result = app.lambda_handler(event, Context())
    mods = sorted({m.split(".")[0] for m in sys.modules} & {"cryptography", "moto", "yaml", "websockets"})
    print("RESULT " + json.dumps({"name": item["name"], "qqbus": qqbus.__file__, "app": app.__file__,
          "result": result, "third": mods}, default=str), flush=True)
"""


@dataclass
class Built:
    """The layers' python/ folders, and what their builds printed."""

    paths: dict[str, Path]
    output: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("layers")
    template = Template.read()
    printed = []
    for layer in LAYER_IDS:
        # As sam build does: the Makefile runs in a copy of its folder, with nothing around it.
        source = out / "source" / layer
        shutil.copytree(REPO / template.resources[layer]["Properties"]["ContentUri"], source)
        make = [
            "make",
            "-s",
            "-C",
            str(source),
            f"build-{layer}",
            f"ARTIFACTS_DIR={out / layer}",
            "SKIP_DEPS=1",
        ]
        printed.append(subprocess.run(make, check=True, capture_output=True, text=True, timeout=120).stdout)
    return Built({layer: out / layer / "python" for layer in LAYER_IDS}, "".join(printed))


@pytest.fixture(scope="module")
def built_layers(built: Built) -> dict[str, Path]:
    return built.paths


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _functions() -> dict[str, FunctionSpec]:
    return {fn.folder: fn for fn in Template.read().functions()}


def _layers_of(fn: FunctionSpec) -> list[str]:
    return [ref["Ref"] for ref in fn.properties.get("Layers", [])]


def test_the_core_layer_is_the_runtime_package_alone(
    built_layers: dict[str, Path],
) -> None:
    package = built_layers["QqbusLayer"] / "qqbus"
    assert (
        (package / "handler.py").exists()
        and (package / "pipeline.py").exists()
        and (package / "senders" / "qq.py").exists()
    )
    # The layer is the runtime package as it is in the repository: nothing removed, nothing added
    # (the relay and the dev tools are packages of their own, outside it).
    source = REPO / "layers" / "qqbus" / "qqbus"
    shipped = {p.relative_to(package) for p in package.rglob("*.py")}
    assert shipped == {p.relative_to(source) for p in source.rglob("*.py")}
    assert not list(built_layers["QqbusLayer"].glob("qqbus_*")), "a dev tool or relay package in the layer"


def _python313() -> str | None:
    """A python3.13 as the layer Makefile looks for one (on PATH, or pyenv's)."""
    for candidate in ["python3.13", *map(str, Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))]:
        if subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def test_the_layer_ships_bytecode_for_the_runtime_python_only(built: Built) -> None:
    """/opt is read-only in Lambda: without python3.13 bytecode every import compiles at cold start."""
    package = built.paths["QqbusLayer"] / "qqbus"
    sources = sorted(p.relative_to(package).with_suffix("") for p in package.rglob("*.py"))
    pycs = list(package.rglob("*.pyc"))
    if _python313() is None:  # the build said so, and shipped none rather than the wrong ones
        assert pycs == [] and "no python3.13 found" in built.output
        return
    assert {p.name.split(".")[1] for p in pycs} == {"cpython-313"}  # never the building Python's
    compiled = sorted((p.parent.parent / p.name.split(".")[0]).relative_to(package) for p in pycs)
    assert compiled == sources


def test_only_the_webhook_has_the_crypto_layer() -> None:
    with_crypto = {folder for folder, fn in _functions().items() if "CryptoLayer" in _layers_of(fn)}
    assert with_crypto == {"qq_webhook"}
    assert all(_layers_of(fn)[0] == "QqbusLayer" for fn in _functions().values())


def _tap_bus(bus: str, sqs: Any, name: str) -> str:
    """The function's own bus, with one rule copying every qqbus event to a queue (its URL)."""
    events = boto3.client("events")
    events.create_event_bus(Name=bus)
    url = sqs.create_queue(QueueName=f"tap-{name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sources = ["qq.official", "onebot.v11", "qqbus.action", "qqbus.action.result"]
    events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": sources}))
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def _where(event: dict[str, Any]) -> str:
    """Which of the template's rules takes a tapped event (the senders' and the results' rules)."""
    if event["source"] == "qqbus.action":
        return "QqSenderFunction" if event["detail-type"].startswith("qq.") else "OnebotSenderFunction"
    if event["source"] == "qqbus.action.result":
        return "ActionResultsRule"
    return f"event {event['detail-type']}"


@dataclass
class Ran:
    """What one function did in the batch: its report, and where its AWS resources are."""

    got: dict[str, Any]
    env: dict[str, str]
    tables: dict[str, str]
    routes: str  # the tap queue's URL
    refs: dict[str, Any]


@pytest.fixture(scope="module")
def ran(
    built_layers: dict[str, Path], moto_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Ran]]:
    """Every function run once, in one interpreter per set of layers (startup paid twice, not 26 times)."""
    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = moto_server
    try:
        template = Template.read()
        tmp = tmp_path_factory.mktemp("packaging")
        out: dict[str, Ran] = {}
        by_layers: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for name in sorted(handler_folders()):
            fn = _functions()[name]
            refs = local_refs(template, "us-east-1", stage=name.replace("_", "-"))
            tables = create_tables(template, boto3.client("dynamodb"), refs)
            sqs = boto3.client("sqs")
            refs.update(create_queues(template, sqs, refs))
            routes = _tap_bus(refs["EventBus"], sqs, name)
            env = {k: v for k, v in function_environment(fn, refs, DevSecrets()).items() if v is not None}
            out[name] = Ran({}, env, tables, routes, refs)
            item = {
                "name": name,
                "dir": str(HANDLERS / name),
                "event": str(EVENTS / f"{name}.json"),
                "env": env,
            }
            by_layers.setdefault(tuple(_layers_of(fn)), []).append(item)
        for layers, items in by_layers.items():
            forbidden = ["moto", "yaml", "websockets", "qqbus_dev", "qqbus_relay", "qqbus_dev.cli", "tests"]
            if "CryptoLayer" not in layers:
                forbidden.append("cryptography")
            plan = tmp / f"plan-{'-'.join(layers)}.json"
            plan.write_text(json.dumps(items))
            base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QQ_", "ONEBOT_"))}
            base |= {"QQBUS_TEST_LAYERS": os.pathsep.join(str(built_layers[layer]) for layer in layers)}
            proc = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    SCRIPT,
                    sysconfig.get_paths()["purelib"],
                    str(plan),
                    ",".join(forbidden),
                ],
                capture_output=True,
                text=True,
                env=base,
                cwd=tmp,
                timeout=300,
                check=False,
            )
            reports = [
                json.loads(x[len("RESULT ") :]) for x in proc.stdout.splitlines() if x.startswith("RESULT ")
            ]
            for report in reports:
                out[report["name"]].got = report
            if len(reports) < len(items):  # the next function failed: name it, with the error
                failed = items[len(reports)]["name"]
                out[failed].got = {"error": proc.stderr[-3000:] or f"exit {proc.returncode}"}
        yield out
    finally:
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved


@pytest.mark.parametrize("name", sorted(handler_folders()))
def test_function_runs_with_only_its_folder_and_its_layers(
    name: str,
    ran: dict[str, Ran],
    built_layers: dict[str, Path],
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    this = ran[name]
    got, fn_env, refs = this.got, this.env, this.refs
    assert got and "error" not in got, got.get(
        "error", "did not run (an earlier function of its batch failed)"
    )
    fn = _functions()[name]
    layers = _layers_of(fn)
    assert Path(got["qqbus"]).resolve().is_relative_to(built_layers["QqbusLayer"].resolve())
    assert Path(got["app"]).resolve() == (HANDLERS / name / "app.py").resolve()
    if "CryptoLayer" not in layers:
        assert "cryptography" not in got["third"]
    assert not set(got["third"]) - {"cryptography"}
    sqs = boto3.client("sqs")
    groups = boto3.client("dynamodb").scan(TableName=this.tables["GroupsTable"])["Items"]
    messages = sqs.receive_message(QueueUrl=this.routes, MaxNumberOfMessages=10).get("Messages", [])
    on_bus: dict[str, int] = {}
    for event in (json.loads(m["Body"]) for m in messages):
        on_bus[_where(event)] = on_bus.get(_where(event), 0) + 1
    assert (len(groups) > 0) == (name in STATE_WRITERS)  # its events/ file changes the state
    users = boto3.client("dynamodb").scan(TableName=this.tables["UsersTable"])["Items"]
    assert (len(users) > 0) == (name in USERS_WRITERS)
    if fn.pattern is None:  # an ingress function: answered, and its event is on the bus
        assert got["result"]["statusCode"] < 300, got["result"]
        assert sum(on_bus.values()) == 1 and next(iter(on_bus)).startswith("event "), on_bus
    elif name in ACTION_ASKERS:  # /ping: one action for its sender; a request: none by the default policy
        pending = any(k.endswith("_REQUEST_POLICY") and v == "pending" for k, v in fn_env.items())
        asked = 2 if name == "qq_interaction_create" else 1  # a button click: its ack, then /ping's pong
        assert sum(on_bus.values()) == (0 if pending else asked)
        assert set(on_bus) <= {"QqSenderFunction", "OnebotSenderFunction"}
    elif name == "onebot_sender":  # no OneBot API URL in the template's default: to the relay's queue
        assert got["result"] == {"status": "relayed"} and on_bus == {}
        relayed = sqs.receive_message(QueueUrl=refs["RelayActionQueue"], MaxNumberOfMessages=10)["Messages"]
        assert len(relayed) == 1
    elif name in SENDERS:  # no group state: refused, reported on the bus, nothing sent
        assert on_bus == {"ActionResultsRule": 1}, got
        assert got["result"]["status"] == "refused"
    else:
        assert on_bus == {}


def test_layer_requirements_match_the_package_dependencies() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    shipped = [
        line.strip()
        for path in (LAYERS_SRC / "requirements.txt", REPO / "layers" / "crypto" / "requirements.txt")
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # boto3 is in the Lambda runtime; everything else the package needs, a layer ships.
    assert sorted(shipped) == sorted(d for d in project["dependencies"] if not d.startswith("boto3"))


def test_the_layers_are_built_for_the_functions_architecture(template: Template) -> None:
    """A layer of x86_64 wheels under arm64 functions imports pydantic_core and fails at once."""
    arch = template.data["Globals"]["Function"]["Architectures"]
    wheel = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}[arch[0]]
    for layer in ("QqbusLayer", "CryptoLayer"):
        res = template.resources[layer]
        assert res["Properties"]["CompatibleArchitectures"] == arch
        assert res["Metadata"]["BuildArchitecture"] == arch[0]
        makefile = (REPO / res["Properties"]["ContentUri"] / "Makefile").read_text()
        assert f"--platform {wheel} " in makefile, layer
