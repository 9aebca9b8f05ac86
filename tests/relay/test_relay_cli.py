"""`qqbus relay onebot` as a process: events onto a bus (moto server), health, SIGTERM flushes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer
from websockets.sync.client import connect


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_relay_process_publishes_reports_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1")
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        events.create_event_bus(Name="relay-bus")
        url = sqs.create_queue(QueueName="relay-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="all", EventBusName="relay-bus", EventPattern=json.dumps({"source": ["onebot.v11"]})
        )
        events.put_targets(Rule="all", EventBusName="relay-bus", Targets=[{"Id": "q", "Arn": arn}])

        ws_port, health_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")} | {
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
            "ONEBOT_ACCESS_TOKEN": "tok",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qqbus",
                "relay",
                "onebot",
                "--bus",
                "relay-bus",
                "--endpoint-url",
                endpoint,
                "--listen",
                f"127.0.0.1:{ws_port}",
                "--health",
                f"127.0.0.1:{health_port}",
                "--spool-dir",
                str(tmp_path / "spool"),
                "--log-format",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        health = f"http://127.0.0.1:{health_port}/health"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(health, timeout=1).read()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    proc.stdout.read() if proc.stdout else ""
                )
                time.sleep(0.1)
        event = {"time": 1, "self_id": 42, "post_type": "notice", "notice_type": "friend_add", "user_id": 7}
        with connect(
            f"ws://127.0.0.1:{ws_port}/?access_token=tok", additional_headers={"X-Self-ID": "42"}, proxy=None
        ) as ws:
            ws.send(json.dumps(event))
            time.sleep(0.5)
            state = json.loads(urllib.request.urlopen(health, timeout=5).read())
            assert state["onebot"]["reverse"]["connections"] == ["42/Universal"]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert any("1 published, 0 spooled" in line["message"] for line in lines), out
        body = json.loads(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"][0]["Body"])
        assert body["detail"]["payload"] == event and body["detail"]["transport"] == "reverse_ws"
    finally:
        server.stop()


def test_relay_without_a_bus_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if k != "EVENT_BUS_NAME"}
    proc = subprocess.run(
        [sys.executable, "-m", "qqbus", "relay", "onebot", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "EVENT_BUS_NAME" in proc.stderr
