"""The local pipeline (`make dev`) end to end: signed posts in, handlers run, against its floor.

Run: .venv/bin/python bench/bench_local_pipeline.py. It starts `qqbus dev` in this process and
sends N OneBot group_increase notices (the bot joining N groups) from 8 threads; the figure is
events/s from the first post to the last handler run. The floor, in the same run: a plain
put_item loop of N items against the same moto server (what the state writes alone cost).
"""

from __future__ import annotations

import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF lines on stdout between the figures

import boto3
from qqbus.local.send import post, prepare
from qqbus.local.stack import LocalStack, StackOptions

N = 420
SENDERS = 8


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
            TableName="bench-floor",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        started = time.perf_counter()
        for n in range(N):
            dynamodb.put_item(TableName="bench-floor", Item={"k": {"S": str(n)}, "v": {"N": str(n)}})
        floor = N / (time.perf_counter() - started)

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
    print(f"moto server put_item loop: {floor:.0f}/s (floor)")
    print(
        f"make dev, {N} signed posts from {SENDERS} senders to handled: {ours:.0f} events/s"
        f" = {ours / floor:.2f}x (goal >= 0.7x)"
    )


if __name__ == "__main__":
    main()
