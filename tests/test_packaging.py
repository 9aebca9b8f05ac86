"""Each function runs as Lambda loads it: its own folder and its built layers, nothing else of ours.

The layers are built by their Makefile (as `sam build` does; SKIP_DEPS: the third-party
packages come from this venv), the AWS side is a moto server in this process, and each function
runs in a fresh interpreter that has never imported moto: an import of anything its layers do
not ship (qqbus.local, qqbus.relay, the CLI, yaml, websockets, moto, and cryptography outside the
function that has the crypto layer) fails the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from qqbus.local.functions import DevSecrets, function_environment
from qqbus.local.provision import create_bus_and_routes, create_queues, create_tables, local_refs
from qqbus.local.template import FunctionSpec, Template

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

# Runs with sys.path = [handler folder, its layers, site-packages, stdlib] and an import guard.
SCRIPT = r"""
import importlib.abc, json, os, sys
handler_dir, site, event_path, forbidden = sys.argv[1:5]
stdlib = [p for p in sys.path if p.endswith(".zip") or p.rstrip("/").endswith(("lib-dynload", "python3.11",
          "python3.12", "python3.13"))]
layers = os.environ["QQBUS_TEST_LAYERS"].split(os.pathsep)
sys.path[:] = [handler_dir, *layers, site, *stdlib]
FORBIDDEN = forbidden.split(",")

class NotInTheLayers(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
            raise ImportError(f"{name} is not in this function's layers")
        return None

sys.meta_path.insert(0, NotInTheLayers())
import app
import qqbus
from qqbus.lambda_context import LocalContext

event = json.load(open(event_path, encoding="utf-8"))
result = app.lambda_handler(event, LocalContext(function_name="packaging"))
mods = sorted({m.split(".")[0] for m in sys.modules} & {"cryptography", "moto", "yaml", "websockets"})
print("RESULT " + json.dumps({"qqbus": qqbus.__file__, "app": app.__file__, "result": result, "third": mods,
      "qqbus_modules": sorted(m for m in sys.modules if m.startswith("qqbus."))}, default=str))
"""


@pytest.fixture(scope="module")
def built_layers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("layers")
    template = Template.read()
    for layer in LAYER_IDS:
        make = [
            "make",
            "-s",
            "-C",
            str(REPO / template.resources[layer]["Properties"]["ContentUri"]),  # as sam build does
            f"build-{layer}",
            f"ARTIFACTS_DIR={out / layer}",
            "SKIP_DEPS=1",
        ]
        subprocess.run(make, check=True, capture_output=True, timeout=60)
    return {layer: out / layer / "python" for layer in LAYER_IDS}


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


def test_the_core_layer_ships_the_package_without_what_only_runs_locally(
    built_layers: dict[str, Path],
) -> None:
    package = built_layers["QqbusLayer"] / "qqbus"
    assert (package / "routing.py").exists() and (package / "senders" / "qq.py").exists()
    for local_only in ("local", "relay", "cli.py", "__main__.py"):
        assert not (package / local_only).exists(), local_only
    assert not list(package.rglob("__pycache__"))


def test_only_the_webhook_has_the_crypto_layer() -> None:
    with_crypto = {folder for folder, fn in _functions().items() if "CryptoLayer" in _layers_of(fn)}
    assert with_crypto == {"qq_webhook"}
    assert all(_layers_of(fn)[0] == "QqbusLayer" for fn in _functions().values())


@pytest.mark.parametrize("name", sorted(handler_folders()))
def test_function_runs_with_only_its_folder_and_its_layers(
    name: str,
    tmp_path: Path,
    built_layers: dict[str, Path],
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    template = Template.read()
    refs = local_refs(template, "us-east-1", stage=name.replace("_", "-"))
    tables = create_tables(template, boto3.client("dynamodb"), refs)
    sqs = boto3.client("sqs")
    refs.update(create_queues(template, sqs, refs))
    routes = create_bus_and_routes(template, boto3.client("events"), sqs, refs, queue_prefix=f"{name}-")
    fn = _functions()[name]
    layers = _layers_of(fn)
    forbidden = ["moto", "yaml", "websockets", "qqbus.local", "qqbus.relay", "qqbus.cli", "tests"]
    if "CryptoLayer" not in layers:
        forbidden.append("cryptography")
    fn_env = {k: v for k, v in function_environment(fn, refs, DevSecrets()).items() if v is not None}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QQ_", "ONEBOT_"))}
    env |= fn_env | {
        "AWS_ENDPOINT_URL": moto_server,
        "QQBUS_TEST_LAYERS": os.pathsep.join(str(built_layers[layer]) for layer in layers),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            SCRIPT,
            str(HANDLERS / name),
            sysconfig.get_paths()["purelib"],
            str(EVENTS / f"{name}.json"),
            ",".join(forbidden),
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
    got: dict[str, Any] = json.loads(line[len("RESULT ") :])
    assert Path(got["qqbus"]).resolve().is_relative_to(built_layers["QqbusLayer"].resolve())
    assert Path(got["app"]).resolve() == (HANDLERS / name / "app.py").resolve()
    assert got["third"] == (["cryptography"] if "CryptoLayer" in layers and name == "qq_webhook" else [])
    groups = boto3.client("dynamodb").scan(TableName=tables["GroupsTable"])["Items"]
    on_bus = {
        rule: len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
        for rule, url in {**routes.function_queues, **routes.catch_all_queues}.items()
    }
    on_bus = {rule: n for rule, n in on_bus.items() if n}
    assert (len(groups) > 0) == (name in STATE_WRITERS)  # its events/ file changes the state
    users = boto3.client("dynamodb").scan(TableName=tables["UsersTable"])["Items"]
    assert (len(users) > 0) == (name in USERS_WRITERS)
    if fn.pattern is None:  # an ingress function: answered, and its event is on the bus
        assert got["result"]["statusCode"] < 500, got["result"]
    elif name in ACTION_ASKERS:  # /ping: one action for its sender; a request: none by the default policy
        pending = any(k.endswith("_REQUEST_POLICY") and v == "pending" for k, v in fn_env.items())
        assert sum(on_bus.values()) == (0 if pending else 1)
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
