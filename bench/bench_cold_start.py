"""A state handler's cold start against its floor: the same UpdateItem with bare boto3.

Run: .venv/bin/python bench/bench_cold_start.py. A moto server runs in this process; each run is a
fresh interpreter that imports a handler and handles one GROUP_ADD_ROBOT, then a second one:

- ours: handlers/qq_group_add_robot (Powertools, pydantic, idempotency, conditional writes), with
  QQBUS_PREWARM=1 as in Lambda, where module code runs in the init phase;
- floor: a hand-written handler that sends the same conditional UpdateItem (the very request ours
  sends, captured first) with boto3 and nothing else;
- libraries: the floor plus what any handler on this stack imports and does before qqbus code runs
  (pydantic validating the payload, Powertools Logger, Metrics and idempotency): the part of the
  gap that is the chosen libraries, not qqbus.

Printed: process wall time from spawn to the first call's return (import + first call; not the
second call, not the teardown) against the floor; qqbus over its libraries in wall and in CPU
time (the goal is read on CPU time: steadier on a shared machine); and inside our process the
first call / the second call (what the init phase moved out of the first event). Runs interleave.
Every module is compiled first, as the layers ship them (layers/bytecode.mk).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

import boto3
from moto.server import ThreadedMotoServer
from qqbus_dev.provision import create_tables, local_refs
from qqbus_dev.template import REPO_ROOT, Template

RUNS = 21
EVENT = json.loads((REPO_ROOT / "events" / "qq_group_add_robot.json").read_text())

OURS = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import app
class LocalContext:  # what Lambda hands a handler (no dev tools in a function's init)
    function_name, function_version, memory_limit_in_mb = "bench", "$LATEST", 256
    aws_request_id, invoked_function_arn = "req-1", "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self):
        return 30000
t1 = time.perf_counter()
event = json.loads(sys.argv[2])
app.lambda_handler(event, LocalContext())
t2 = time.perf_counter()
print("first", time.process_time(), flush=True)
event["detail"]["event_id"] += "-2"; event["detail"]["payload"]["d"]["timestamp"] += 1
app.lambda_handler(event, LocalContext())
t3 = time.perf_counter()
print(json.dumps({"init": t1 - t0, "first": t2 - t1, "second": t3 - t2}))
"""

FLOOR = r"""
import json, sys, time
t0 = time.perf_counter()
import boto3
client = boto3.client("dynamodb")

REQUEST = json.loads(sys.argv[3])  # the UpdateItem ours sends (see captured_update)

def handler(event):
    d = event["detail"]["payload"]["d"]
    key = {"bot_id": {"S": event["detail"]["bot_id"]}, "group_id": {"S": d["group_openid"]}}
    try:
        client.update_item(**{**REQUEST, "Key": key})
    except client.exceptions.ConditionalCheckFailedException:
        pass

t1 = time.perf_counter()
event = json.loads(sys.argv[2])
handler(event)
t2 = time.perf_counter()
print("first", time.process_time(), flush=True)
event["detail"]["payload"]["d"]["timestamp"] += 1
handler(event)
t3 = time.perf_counter()
print(json.dumps({"init": t1 - t0, "first": t2 - t1, "second": t3 - t2}))
"""


LIBRARIES = FLOOR.replace(
    "import boto3\n",
    """import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function
from pydantic import BaseModel


class D(BaseModel):
    group_openid: str
    op_member_openid: str
    timestamp: int


logger, metrics = Logger(), Metrics(namespace="bench")
""",
).replace(
    'd = event["detail"]["payload"]["d"]',
    'd = D.model_validate(event["detail"]["payload"]["d"]).model_dump()',
)


def captured_update(endpoint: str) -> dict[str, Any]:
    """The UpdateItem qqbus's handler sends for the event (both clocks, the tie-break, the
    returned row on refusal). The floor sends the same request, so the two differ only in the
    code around it, not in how much work the database does (moto parses the larger expression
    more slowly: compared with a smaller write, that was most of the first call's gap)."""
    import copy

    from qqbus.aws import client

    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        GROUPS_TABLE_NAME="qqbus-bench-groups",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(REPO_ROOT / "handlers" / "qq_group_add_robot"))
    import app  # type: ignore[import-not-found]
    from qqbus_dev.lambda_context import LocalContext

    seen: dict[str, Any] = {}

    def keep(params: dict[str, Any], **_: Any) -> None:
        seen.update(copy.deepcopy(params))

    client("dynamodb").meta.events.register("provide-client-params.dynamodb.UpdateItem", keep)
    event = json.loads(json.dumps(EVENT))
    event["detail"]["payload"]["d"]["group_openid"] += "capture"
    app.lambda_handler(event, LocalContext())
    if not seen:
        raise RuntimeError("the handler sent no UpdateItem to capture")
    return seen


def run(
    script: str, endpoint: str, n: int, request: dict[str, Any] | None = None
) -> tuple[float, dict[str, float]]:
    event = json.loads(json.dumps(EVENT))
    event["detail"]["event_id"] += f"-{n}"
    event["detail"]["payload"]["d"]["group_openid"] += f"{n}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "GROUPS_TABLE_NAME": "qqbus-bench-groups",
        "IDEMPOTENCY_TABLE_NAME": "qqbus-bench-idempotency",
        "QQBUS_PREWARM": "1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    handler_dir = str(REPO_ROOT / "handlers" / "qq_group_add_robot")
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", script, handler_dir, json.dumps(event), json.dumps(request or {})],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    # The clock stops when the first call has returned: the second call and the interpreter's
    # teardown (tens of ms with pydantic's classes to free) are no part of a cold start.
    line = child.stdout.readline()
    wall = time.perf_counter() - started
    rest, _ = child.communicate()
    mark, _, cpu = line.partition(" ")
    if mark != "first" or child.returncode:
        raise RuntimeError(f"the handler process failed (exit {child.returncode}): {line}{rest}")
    return wall, {**json.loads(rest.strip().splitlines()[-1]), "cpu": float(cpu)}


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    template = Template.read()
    create_tables(
        template, boto3.client("dynamodb", endpoint_url=endpoint), local_refs(template, "us-east-1", "bench")
    )
    import compileall

    for folder in (REPO_ROOT / "layers" / "qqbus" / "qqbus", REPO_ROOT / "handlers" / "qq_group_add_robot"):
        compileall.compile_dir(folder, quiet=1)
    request = captured_update(endpoint)
    ours, floor, libraries, inner, lib_cpu = [], [], [], [], []
    for n in range(RUNS):
        wall, times = run(OURS, endpoint, n)
        ours.append(wall)
        inner.append(times)
        floor.append(run(FLOOR, endpoint, n + 1000, request)[0])
        wall, times = run(LIBRARIES, endpoint, n + 2000, request)
        libraries.append(wall)
        lib_cpu.append(times["cpu"])
    server.stop()
    o, f, lib = statistics.median(ours), statistics.median(floor), statistics.median(libraries)
    # qqbus over its libraries, run by run (the two ran back to back, so a slower moment of the
    # machine weighs on both), in wall time and in the processes' CPU time up to the first call's
    # return: the CPU time is what the 5 % goal is read on, since on a shared machine the wall
    # time's medians move by more than 5 % from run to run, and init work is all CPU.
    on_top = statistics.median(a / b for a, b in zip(ours, libraries, strict=True))
    ours_cpu = [t["cpu"] for t in inner]
    on_top_cpu = statistics.median(a / b for a, b in zip(ours_cpu, lib_cpu, strict=True))
    first = statistics.median(t["first"] for t in inner)
    second = statistics.median(t["second"] for t in inner)
    print(
        f"import + first call, process wall: ours {o * 1000:.0f} ms, floor {f * 1000:.0f} ms"
        f" = {o / f:.2f}x (the old goal of 1.10x is retired: the libraries alone are above it)"
    )
    print(
        f"  of which the libraries (pydantic + Powertools, no qqbus): {lib * 1000:.0f} ms"
        f" = {lib / f:.2f}x the floor; qqbus on top of them: {on_top:.2f}x wall"
    )
    print(
        f"  qqbus on top of its libraries in CPU time: ours {statistics.median(ours_cpu) * 1000:.0f} ms,"
        f" libraries {statistics.median(lib_cpu) * 1000:.0f} ms = {on_top_cpu:.2f}x (goal <= 1.05x)"
    )
    print(
        f"inside ours: first call {first * 1000:.0f} ms / second call {second * 1000:.0f} ms"
        f" = {first / second:.2f}x (goal <= 2x)"
    )


if __name__ == "__main__":
    main()
