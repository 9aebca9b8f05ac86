"""The local pipeline (`make dev`) end to end: signed posts in, handlers run, against its floor.

Run: .venv/bin/python bench/bench_local_pipeline.py. It starts `qqbus dev` in this process and
sends N OneBot group_increase notices (the bot joining N groups) from 8 threads; the figure is
events/s from the first post to the last handler run. The floor, in the same run: a plain
put_item loop of N items against the same moto server from another process, over HTTP (the
stack's own calls go through moto's mock, which shares the server's state). The same loop in the stack's
process is printed beside it, for scale.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF lines on stdout between the figures

import boto3
from qqbus_dev.send import post, prepare
from qqbus_dev.stack import LocalStack, StackOptions

N = 420
SENDERS = 8
TABLE = "bench-floor"

# argv: endpoint, table, count, first key. Prints put_items per second.
PUT_ITEM_LOOP = """
import sys, time, boto3
endpoint, table, n, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
started = time.perf_counter()
for k in range(first, first + n):
    dynamodb.put_item(TableName=table, Item={"k": {"S": str(k)}, "v": {"N": str(k)}})
print(n / (time.perf_counter() - started))
"""


def put_item_loop(endpoint: str, first: int) -> float:
    """put_items/s over HTTP from a process of its own (the floor)."""
    out = subprocess.run(
        [sys.executable, "-c", PUT_ITEM_LOOP, endpoint, TABLE, str(N), str(first)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def notice(n: int) -> bytes:
    payload = {
        "time": int(time.time()),
        "self_id": 123456789,
        "post_type": "notice",
        "notice_type": "group_increase",
        "sub_type": "approve",
        "group_id": 100000 + n,
        "operator_id": 1,
        "user_id": 123456789,
    }
    return json.dumps(payload).encode()


def main() -> None:
    stack = LocalStack(StackOptions(port=0, aws_port=0, state_file=None, out=io.StringIO()))
    stack.start()
    try:
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        floor = put_item_loop(stack.aws_endpoint, 0)
        started = time.perf_counter()
        for n in range(N):
            dynamodb.put_item(TableName=TABLE, Item={"k": {"S": f"in-{n}"}, "v": {"N": str(n)}})
        in_process = N / (time.perf_counter() - started)

        bodies = [prepare(notice(n)) for n in range(N)]
        done = lambda: stack.stats["OnebotGroupIncreaseFunction"].ok  # noqa: E731
        before = done()
        started = time.perf_counter()
        with ThreadPoolExecutor(SENDERS) as pool:
            statuses = list(pool.map(lambda p: post(stack.http_url, p)[0], bodies))
        assert statuses.count(204) == N, statuses[:5]
        while done() < before + N:
            time.sleep(0.01)
        ours = N / (time.perf_counter() - started)
    finally:
        stack.stop()
    print(f"moto server put_item loop from another process: {floor:.0f}/s (floor)")
    print(f"the same loop in the stack's process (moto's mock, no socket): {in_process:.0f}/s")
    print(
        f"make dev, {N} signed posts from {SENDERS} senders to handled: {ours:.0f} events/s"
        f" = {ours / floor:.2f}x (for scale: the dev loop's goal is correctness, not throughput)"
    )


if __name__ == "__main__":
    main()
