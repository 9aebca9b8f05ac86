"""`qqbus doctor` against a stack in moto (CloudFormation, SSM, SQS, CloudWatch on a moto server),
the real QQ webhook handler behind HTTP on 127.0.0.1, the fake QQ token endpoint, and `make dev`."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import boto3
import pytest
from qqbus_dev.cli import main
from qqbus_dev.fake_apis import FakeQQApi
from qqbus_dev.lambda_context import LocalContext

from tests.local.stacks import running_stack
from tests.support import load_handler

APP_ID = "102030405"
SECRET = "DG5g3B4j9X2KOErG"
REGION = "us-east-1"

#: What doctor reads of the real template, in a plain CloudFormation template moto can create.
TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "QqEgress": {"Type": "String", "Default": "direct", "AllowedValues": ["direct", "nat", "relay"]},
        "QqSandbox": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"]},
        "QqBotSecretParameterName": {"Type": "String"},
        "QqBotAppId": {"Type": "String", "Default": ""},
        "WebhookUrl": {"Type": "String"},  # the test's stand-in for the Function URL
    },
    "Conditions": {
        "Nat": {"Fn::Equals": [{"Ref": "QqEgress"}, "nat"]},
        "Relay": {"Fn::Equals": [{"Ref": "QqEgress"}, "relay"]},
    },
    "Resources": {
        "NatAddress": {"Type": "AWS::EC2::EIP", "Condition": "Nat", "Properties": {"Domain": "vpc"}},
        "QqRelayActionQueue": {
            "Type": "AWS::SQS::Queue",
            "Condition": "Relay",
            "Properties": {"QueueName": {"Fn::Sub": "qqbus-${Stage}-qq-actions"}},
        },
        "Topic": {"Type": "AWS::SNS::Topic"},  # a stack needs a resource under every condition
    },
    "Outputs": {
        "QqWebhookUrl": {"Value": {"Ref": "WebhookUrl"}},
        "EventBusName": {"Value": {"Fn::Sub": "qqbus-${Stage}"}},
        "QqEgressIp": {"Condition": "Nat", "Value": {"Ref": "NatAddress"}},
        "QqRelayActionQueueUrl": {"Condition": "Relay", "Value": {"Ref": "QqRelayActionQueue"}},
    },
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def token_api() -> Iterator[FakeQQApi]:
    api = FakeQQApi(secrets={APP_ID: SECRET, "999": "other-bot-secret"}.get)
    api.start()
    yield api
    api.stop()


class Webhook:
    """The deployed webhook: handlers/qq_webhook's lambda_handler behind a Function-URL-like server."""

    def __init__(self) -> None:
        lambda_handler = load_handler("qq_webhook").lambda_handler

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                event = {
                    "version": "2.0",
                    "rawPath": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "requestContext": {"http": {"method": "POST", "path": self.path}},
                    "body": body.decode(),
                    "isBase64Encoded": False,
                }
                answer = lambda_handler(event, LocalContext(function_name="qqbus-test-QqWebhook"))
                data = answer["body"].encode()
                self.send_response(answer["statusCode"])
                for name, value in answer.get("headers", {}).items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    """The webhook reads its secret from moto's SSM, as deployed (QQ_BOT_SECRET_PARAMETER)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.delenv("QQ_BOT_SECRET", raising=False)
    monkeypatch.delenv("QQ_TOKEN_URL", raising=False)
    server = Webhook()
    yield server
    server.stop()


class Deployment:
    def __init__(self, endpoint: str, webhook: Webhook, token_api: FakeQQApi, monkeypatch: Any) -> None:
        self.endpoint = endpoint
        self.webhook = webhook
        self.token_api = token_api
        self.monkeypatch = monkeypatch
        self.parameter = f"/qqbus/{uuid.uuid4().hex[:8]}/qq-bot-secret"

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def store(self, value: str, name: str | None = None) -> str:
        name = name or self.parameter
        self.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
        return name

    def deploy(
        self,
        *,
        egress: str = "nat",
        sandbox: str = "false",
        app_id: str = APP_ID,
        webhook_url: str | None = None,
        webhook_reads: str | None = None,
    ) -> str:
        """A stack in moto; the webhook reads ``webhook_reads`` (default: the stack's parameter)."""
        name = f"qqbus-{uuid.uuid4().hex[:8]}"
        values = {
            "Stage": name,
            "QqEgress": egress,
            "QqSandbox": sandbox,
            "QqBotSecretParameterName": self.parameter,
            "QqBotAppId": app_id,
            "WebhookUrl": webhook_url or self.webhook.url,
        }
        self.client("cloudformation").create_stack(
            StackName=name,
            TemplateBody=json.dumps(TEMPLATE),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        )
        self.monkeypatch.setenv("QQ_BOT_SECRET_PARAMETER", webhook_reads or self.parameter)
        self.monkeypatch.setenv("QQ_BOT_APPID", app_id)
        return name

    def output(self, stack: str, key: str) -> str:
        (found,) = self.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        return next(o["OutputValue"] for o in found["Outputs"] if o["OutputKey"] == key)


@pytest.fixture
def aws(endpoint: str, webhook: Webhook, token_api: FakeQQApi, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    return Deployment(endpoint, webhook, token_api, monkeypatch)


def doctor(
    capsys: pytest.CaptureFixture[str], aws: Deployment, *args: str
) -> tuple[int, dict[str, str], str]:
    """Exit code, the finding lines by status word (and all of stdout as "out"), and stderr."""
    code = main(["doctor", "--endpoint-url", aws.endpoint, "--token-url", aws.token_api.token_url, *args])
    out, err = capsys.readouterr()
    lines: dict[str, str] = {"ok": "", "MISSING": "", "warn": ""}
    for line in out.splitlines():
        word = line.split(" ", 1)[0]
        if word in lines:
            lines[word] += line + "\n"
    return code, {**lines, "out": out}, err


def test_everything_in_place_passes_and_names_the_address_to_whitelist(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.store(json.dumps({APP_ID: SECRET, "999": "other-bot-secret"}))
    stack = aws.deploy(egress="nat", app_id="")  # a map of secrets needs no QqBotAppId
    code, lines, err = doctor(capsys, aws, "--stack", stack, "--region", REGION, "--app-id", APP_ID)
    assert code == 0, lines
    assert not lines["MISSING"] and not lines["warn"] and not err
    ip = aws.output(stack, "QqEgressIp")
    assert ip in [a["PublicIp"] for a in aws.client("ec2").describe_addresses()["Addresses"]]
    ok = lines["ok"]
    assert f"secret parameter {aws.parameter}: readable, a JSON object naming AppID {APP_ID}" in ok
    assert f"AppID {APP_ID} and its secret: accepted by the token endpoint" in ok
    assert f"webhook {aws.webhook.url}: answers op 13 signed with the secret of AppID {APP_ID}" in ok
    assert f"ok      egress nat: whitelist {ip} on the QQ platform (开发设置 → IP白名单)" in ok
    assert aws.token_api.received[-1].body == {"appId": APP_ID, "clientSecret": SECRET}
    steps = lines["out"].split("Not checked here")[1]  # what only the QQ platform shows
    assert f"IP白名单): {ip}" in steps and "GROUP_AND_C2C_EVENT" in steps and "沙箱" in steps


def test_a_missing_parameter_says_how_to_create_it(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = aws.deploy()
    code, lines, _ = doctor(capsys, aws, "--stack", stack)
    assert code == 1
    assert (
        f"MISSING secret parameter {aws.parameter}: it does not exist: aws ssm put-parameter --name "
        f"{aws.parameter} --type SecureString --value '<secret>' --region {REGION}"
    ) in lines["MISSING"]
    # The webhook cannot read it either: it answers 503, and the doctor says why.
    assert "answered op 13 with HTTP 503" in lines["MISSING"]
    assert "the webhook cannot read its secret" in lines["MISSING"]


def test_a_single_secret_without_app_id_is_refused_for_every_request(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.store(SECRET)
    stack = aws.deploy(app_id="")
    code, lines, _ = doctor(capsys, aws, "--stack", stack)
    assert code == 1
    assert (
        f"MISSING QqBotAppId: {aws.parameter} holds a single secret and QqBotAppId is empty, so the webhook "
        "refuses every request (401): redeploy with QqBotAppId=<AppID>"
    ) in lines["MISSING"]
    # With the AppID given here, the webhook itself shows the refusal.
    code, lines, _ = doctor(capsys, aws, "--stack", stack, "--app-id", APP_ID)
    assert code == 1
    assert "answered op 13 with HTTP 401" in lines["MISSING"] and "no secret for AppID" in lines["MISSING"]


def test_a_wrong_secret_is_refused_by_the_token_endpoint(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.store("not-the-bot-secret")  # the webhook signs with it too: only the token endpoint knows
    stack = aws.deploy()
    code, lines, _ = doctor(capsys, aws, "--stack", stack)
    assert code == 1
    assert f"ok      webhook {aws.webhook.url}: answers op 13" in lines["ok"]
    assert (
        f"MISSING AppID {APP_ID} and its secret: refused by the token endpoint (HTTP 401: "
        in lines["MISSING"]
    )
    assert f"into the parameter {aws.parameter}" in lines["MISSING"]


def test_a_webhook_signing_with_another_secret(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    aws.store(SECRET)
    other = aws.store("an-older-secret", name=aws.parameter + "-old")
    stack = aws.deploy(webhook_reads=other)
    code, lines, _ = doctor(capsys, aws, "--stack", stack)
    assert code == 1
    assert (
        f"MISSING webhook {aws.webhook.url}: the deployed webhook uses a different secret than "
        f"the parameter {aws.parameter}"
    ) in lines["MISSING"]
    assert lines["MISSING"].count("\n") == 1  # parameter and token endpoint agree


def test_an_unreachable_webhook(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
    aws.store(SECRET)
    stack = aws.deploy(webhook_url=url)
    code, lines, _ = doctor(capsys, aws, "--stack", stack)
    assert code == 1
    assert f"MISSING webhook {url}: unreachable (" in lines["MISSING"]
    assert "is the stack deployed, and the URL its QqWebhookUrl?" in lines["MISSING"]


def test_direct_egress_needs_the_sandbox_or_a_fixed_address(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.store(SECRET)
    code, lines, _ = doctor(capsys, aws, "--stack", aws.deploy(egress="direct"))
    assert code == 1
    assert (
        "MISSING egress direct to the production API: production API with no fixed address: replies fail "
        "with 11298 ip_not_whitelisted unless the bot has no whitelist; deploy with QqEgress=nat or relay, "
        "or QqSandbox=true to try in the sandbox"
    ) in lines["MISSING"]

    code, lines, _ = doctor(capsys, aws, "--stack", aws.deploy(egress="direct", sandbox="true"))
    assert code == 0
    assert "ok      egress direct to the sandbox API (the sandbox has no IP whitelist)" in lines["ok"]
    assert "warn    going live: the production API needs a fixed address" in lines["warn"]


def test_relay_queue_reachable_then_an_old_waiting_action_warns(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.store(SECRET)
    stack = aws.deploy(egress="relay")
    queue = aws.output(stack, "QqRelayActionQueueUrl")
    code, lines, _ = doctor(capsys, aws, "--stack", stack)
    assert code == 0 and "ok      egress relay: queue reachable, 0 action(s) waiting" in lines["ok"]

    aws.client("sqs").send_message(QueueUrl=queue, MessageBody="{}")
    # What SQS publishes in AWS for a queue nobody reads (GetQueueAttributes has no age).
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue.rsplit("/", 1)[-1]}],
                "Timestamp": datetime.now(UTC),
                "Value": 300,
                "Unit": "Seconds",
            }
        ],
    )
    code, lines, _ = doctor(capsys, aws, "--stack", stack)
    assert code == 0
    assert (
        f"warn    egress relay queue {queue}: 1 action(s) waiting, the oldest for 300 s: "
        f"is `qqbus relay qq --actions-queue {queue}` running on the whitelisted host?"
    ) in lines["warn"]


def test_relay_without_its_queue_output_is_missing(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.store(SECRET)
    code, lines, _ = doctor(capsys, aws, "--stack", aws.deploy(egress="nat"), "--egress", "relay")
    assert (
        code == 1
        and "MISSING egress relay: the stack has no QqRelayActionQueueUrl output" in lines["MISSING"]
    )


def test_usage_errors_are_one_line_and_exit_2(
    aws: Deployment, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines, err = doctor(capsys, aws, "--stack", "no-such-stack", "--region", REGION)
    assert code == 2 and err == f"qqbus doctor: no stack named 'no-such-stack' in {REGION}\n"
    assert not lines["out"]

    code, _, err = doctor(capsys, aws)
    assert code == 2 and err.count("\n") == 1 and "--stack NAME" in err

    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    code, _, err = doctor(capsys, aws, "--stack", "any")
    assert code == 2 and err == "qqbus doctor: no AWS region: pass --region or set AWS_DEFAULT_REGION\n"

    code, _, err = doctor(capsys, aws, "--local", "--state-file", "/nonexistent/dev.json")
    assert code == 2 and "no running `make dev`" in err


def test_the_running_local_stack_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_stack(tmp_path) as stack:
        code = main(["doctor", "--local", "--state-file", str(stack.state_file)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "MISSING" not in out and "\nwarn" not in out
    assert f"ok      secret: from the local stack ({stack.state_file})" in out
    assert "ok      token endpoint: not checked (the local stack's sender uses the fake QQ API)" in out
    assert f"ok      webhook {stack.http}/qq/webhook: answers op 13 signed with the secret of AppID" in out
    assert "ok      egress: the local stack sends to its fake QQ API (no whitelist locally)" in out
    assert "GROUP_AND_C2C_EVENT" in out and "IP白名单" in out
