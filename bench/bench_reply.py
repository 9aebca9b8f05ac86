"""The cost of one reply on the local stack: a "/ping" group @-message until its "pong" is sent.

Run: .venv/bin/python bench/bench_reply.py. It starts `qqbus dev` in this process (moto server,
fake QQ OpenAPI), sends N signed /ping messages one at a time and times each from the webhook's
answer to the sender's `sent` result (handler -> action on the bus -> sender -> fake API ->
result). The baseline is one PutEvents call to the same moto server, timed in the same run and
made as the stack's own code makes it (in-process, through moto's mock): the reply
costs several bus hops, table reads and writes, and an HTTP call, so the ratio says how many
PutEvents' worth of time one reply takes here.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import time
import urllib.error
import urllib.request
import uuid

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from qqbus_dev.send import post, prepare
from qqbus_dev.stack import LocalStack, StackOptions
from qqbus_dev.template import REPO_ROOT

N = 30


def one_reply(stack: LocalStack, template: dict[str, object]) -> float:
    payload = json.loads(json.dumps(template))
    payload["id"] = f"GROUP_AT_MESSAGE_CREATE:{uuid.uuid4()}"
    payload["d"]["id"] = f"ROBOT1.0_{uuid.uuid4().hex}"
    prepared = prepare(json.dumps(payload).encode(), fresh_time=True)
    started = time.perf_counter()
    status, _ = post(stack.http_url, prepared)
    assert status == 200, status
    while True:
        try:
            with urllib.request.urlopen(f"{stack.http_url}/_trace/{payload['id']}", timeout=5) as response:
                trace = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 404 until the stack has noted the post (after answering it)
            if exc.code != 404:
                raise
            time.sleep(0.002)
            continue
        results = [a.get("result") for a in trace["actions"].values()]
        if results and all(results):
            assert results[0]["outcome"] == "sent", results
            return time.perf_counter() - started
        time.sleep(0.002)


def main() -> None:
    options = StackOptions(port=0, aws_port=0, state_file=None, out=io.StringIO(), retry_delay=0.05)
    stack = LocalStack(options)
    stack.start()
    try:
        import boto3

        events = boto3.client("events")
        bus = stack.routes.bus_name
        entry = {"Source": "bench", "DetailType": "bench", "Detail": "{}", "EventBusName": bus}
        sample = json.loads((REPO_ROOT / "events" / "qq_group_at_message_create.json").read_text())
        template = sample["detail"]["payload"]
        one_reply(stack, template)  # warm: imports, first token
        replies, puts = [], []
        for _ in range(N):  # interleaved, so both see the same machine
            started = time.perf_counter()
            events.put_events(Entries=[entry])
            puts.append(time.perf_counter() - started)
            replies.append(one_reply(stack, template))
    finally:
        stack.stop()
    put, reply = statistics.median(puts), statistics.median(replies)
    print(f"one PutEvents to the local moto server: {put * 1000:.1f} ms median (baseline)")
    ratio = reply / put
    print(f"one reply, webhook answer -> sent:      {reply * 1000:.1f} ms median = {ratio:.1f}x baseline")


if __name__ == "__main__":
    main()
