"""``qqbus doctor``: what can be checked of "will my QQ bot answer in production".

The configuration comes from a deployed stack (CloudFormation Parameters and Outputs), or from
the running ``make dev`` (``.qqbus/dev.json``), with command-line overrides. Each check prints
one line: ``ok``, ``MISSING <what>: <what to do>`` or ``warn <what>: <why>``; the exit code is
1 when anything is MISSING, 2 on a usage error. Then the steps that only the QQ platform's
pages can show. Dev tooling: never imported by a Lambda function.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import string
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from qqbus.senders.json_http import Unavailable, request_json
from qqbus.signatures import SignatureError, qq_verify

TOKEN_URL = "https://bots.qq.com/app/getAppAccessToken"
WHITELIST_PAGE = "开发设置 → IP白名单"
#: An action waiting longer than this in the relay's queue means no relay is taking them.
RELAY_STALE_S = 60

OK, MISSING, WARN = "ok", "MISSING", "warn"


@dataclass(frozen=True)
class Finding:
    status: str  # OK, MISSING or WARN
    what: str
    how: str = ""  # MISSING: exactly what to do; WARN: why; OK: what to know

    def __str__(self) -> str:
        return f"{self.status:<8}{self.what}" + (f": {self.how}" if self.how else "")


class UsageError(Exception):
    """No configuration to check (exit 2, one line)."""


class Aws:
    """boto3 clients for one region and endpoint, with short timeouts (the doctor must not hang)."""

    def __init__(self, region: str | None, endpoint: str | None, *, local: bool = False) -> None:
        import boto3
        from botocore.config import Config

        keys = {"aws_access_key_id": "local", "aws_secret_access_key": "local"} if local else {}
        self.session = boto3.session.Session(region_name=region, **keys)
        self.endpoint = endpoint
        self.config = Config(
            connect_timeout=5, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"}
        )

    @property
    def region(self) -> str | None:
        return self.session.region_name

    def require(self) -> Aws:
        if not self.region:
            raise UsageError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
        if self.session.get_credentials() is None:
            raise UsageError(
                "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        return self

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint, config=self.config)  # type: ignore[call-overload]


@dataclass
class Config:
    source: str
    aws: Aws | None = None
    webhook_url: str | None = None
    app_id: str | None = None
    deployed_app_id: str | None = None  # the stack's QqBotAppId ("" when empty); None: not known
    secret: str | None = None
    secret_from: str = ""  # where ``secret`` came from, for the messages
    secret_parameter: str | None = None
    egress: str | None = None  # direct | nat | relay | local
    sandbox: bool = False
    egress_ip: str | None = None
    relay_queue_url: str | None = None
    token_url: str = TOKEN_URL
    check_token: bool = True
    local: bool = False


# ------------------------------------------------------------------ configuration


def configure(args: argparse.Namespace) -> Config:
    """The configuration to check: the stack's or the local stack's, then the overrides."""
    if args.stack:
        cfg = _from_stack(args)
    elif args.local:
        cfg = _from_local(args)
    elif args.webhook_url or args.secret_parameter:
        cfg = Config(source="the options given")
    else:
        raise UsageError("nothing to check: pass --stack NAME (a deployed stack) or --local (`make dev`)")
    if args.secret_parameter and cfg.aws is None:
        cfg.aws = Aws(args.region, args.endpoint_url).require()
    cfg.webhook_url = args.webhook_url or cfg.webhook_url
    cfg.app_id = args.app_id or cfg.app_id
    cfg.secret_parameter = args.secret_parameter or cfg.secret_parameter
    if args.secret:
        cfg.secret, cfg.secret_from = args.secret, "--secret"
    cfg.egress = args.egress or cfg.egress
    if args.sandbox:
        cfg.sandbox = args.sandbox == "true"
    cfg.token_url = args.token_url or os.environ.get("QQ_TOKEN_URL") or TOKEN_URL
    # The local stack's sender gets its tokens from the fake QQ API: the real endpoint only if asked.
    cfg.check_token = not args.skip_token and not (cfg.local and not args.token_url)
    return cfg


def _from_stack(args: argparse.Namespace) -> Config:
    from botocore.exceptions import BotoCoreError, ClientError

    aws = Aws(args.region, args.endpoint_url).require()
    try:
        (stack,) = aws.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        if "does not exist" in message:
            raise UsageError(f"no stack named {args.stack!r} in {aws.region}") from None
        raise UsageError(f"cannot read stack {args.stack!r}: {message}") from None
    except BotoCoreError as exc:
        raise UsageError(f"cannot read stack {args.stack!r}: {exc}") from None
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return Config(
        source=f"stack {args.stack} ({stack.get('StackStatus', '?')}, {aws.region})",
        aws=aws,
        webhook_url=outputs.get("QqWebhookUrl"),
        app_id=params.get("QqBotAppId") or None,
        deployed_app_id=params.get("QqBotAppId"),
        secret_parameter=params.get("QqBotSecretParameterName") or None,
        egress=params.get("QqEgress", "direct"),  # a stack without the parameter sends directly
        sandbox=params.get("QqSandbox") == "true",
        egress_ip=outputs.get("QqEgressIp"),
        relay_queue_url=outputs.get("QqRelayActionQueueUrl"),
    )


def _from_local(args: argparse.Namespace) -> Config:
    from qqbus_dev.state_file import STATE_FILE, read_state

    path = Path(args.state_file) if args.state_file else STATE_FILE
    state = read_state(path)
    if not state.get("http"):
        raise UsageError("--local: no running `make dev` found (start it, or pass --state-file)")
    aws = Aws(state.get("region") or "us-east-1", args.endpoint_url or state.get("aws_endpoint"), local=True)
    return Config(
        source=f"the local stack at {state['http']}",
        aws=aws,
        webhook_url=state["http"].rstrip("/") + "/qq/webhook",
        app_id=state.get("qq_appid"),
        secret=state.get("qq_secret") or None,
        secret_from=f"the local stack ({path})",
        egress="local",
        local=True,
    )


# ------------------------------------------------------------------ checks


def check_secret(cfg: Config) -> Iterator[Finding]:
    """1. The secret parameter exists, is readable, and has a secret for the AppID."""
    name = cfg.secret_parameter
    if not name:
        _secret_from_env(cfg)
        if cfg.secret:
            yield Finding(OK, f"secret: from {cfg.secret_from} (no secret parameter to check)")
        else:
            yield Finding(
                MISSING, "secret", "no secret to check with: pass --stack, --secret-parameter or --secret"
            )
        return
    assert cfg.aws is not None
    try:
        value = _read_parameter(cfg.aws, name)
    except LookupError:
        yield Finding(MISSING, f"secret parameter {name}", f"it does not exist: {_store_command(cfg, name)}")
    except Exception as exc:  # botocore's errors: access denied, KMS, unreachable
        yield Finding(
            MISSING,
            f"secret parameter {name}",
            f"not readable with these credentials ({_one_line(exc)}): they need "
            + ("secretsmanager:GetSecretValue" if name.startswith("secretsmanager:") else "ssm:GetParameter")
            + " (and kms:Decrypt for its key)",
        )
    else:
        yield from _check_secret_value(cfg, name, value)
        return
    _secret_from_env(cfg)


def _check_secret_value(cfg: Config, name: str, value: str) -> Iterator[Finding]:
    text = value.strip()
    if text.startswith("{"):
        try:
            bots = json.loads(text)
        except ValueError:
            bots = None
        if not isinstance(bots, dict) or not bots:
            yield Finding(
                MISSING,
                f"secret parameter {name}",
                'it starts with "{" but is no JSON object {"<AppID>": "<secret>"}',
            )
            return
        if not cfg.app_id:
            cfg.app_id = next(iter(bots))
            if len(bots) > 1:
                yield Finding(
                    WARN,
                    "AppID",
                    f"{name} names several ({', '.join(bots)}): checking {cfg.app_id}; "
                    "pass --app-id for another",
                )
        secret = str(bots.get(cfg.app_id) or "")
        if not secret:
            yield Finding(
                MISSING,
                f"secret parameter {name}",
                f"its JSON object names AppID {', '.join(bots)}, not {cfg.app_id}: add "
                f'"{cfg.app_id}": "<secret>" to it (the webhook refuses the AppIDs it does not name)',
            )
            return
        kind = f"a JSON object naming AppID {cfg.app_id}"
    else:
        secret = text
        if cfg.deployed_app_id == "":
            yield Finding(
                MISSING,
                "QqBotAppId",
                f"{name} holds a single secret and QqBotAppId is empty, so the webhook refuses every request "
                f'(401): redeploy with QqBotAppId=<AppID>, or store {{"<AppID>": "<secret>"}} in {name}',
            )
            return
        if not cfg.app_id:
            yield Finding(MISSING, "AppID", f"{name} holds a single secret: pass --app-id (the bot's AppID)")
            return
        kind = f"a single secret, for AppID {cfg.app_id}"
    if cfg.secret and cfg.secret != secret:
        yield Finding(
            MISSING,
            f"secret parameter {name}",
            f"its secret for AppID {cfg.app_id} is not the one from {cfg.secret_from}: "
            + _store_command(cfg, name, overwrite=True),
        )
        return
    cfg.secret, cfg.secret_from = secret, f"the parameter {name}"
    yield Finding(OK, f"secret parameter {name}: readable, {kind}")


def check_token(cfg: Config) -> Iterator[Finding]:
    """2. The token endpoint (no IP whitelist) accepts the AppID and secret."""
    if not cfg.check_token:
        why = "the local stack's sender uses the fake QQ API" if cfg.local else "--skip-token"
        yield Finding(OK if cfg.local else WARN, "token endpoint", f"not checked ({why})")
        return
    if not (cfg.app_id and cfg.secret):
        yield Finding(WARN, "token endpoint", "not checked: no AppID and secret to try")
        return
    try:
        answer = request_json("POST", cfg.token_url, {"appId": cfg.app_id, "clientSecret": cfg.secret})
    except Unavailable as exc:
        yield Finding(WARN, "token endpoint", f"unreachable from here ({exc}); --skip-token when offline")
        return
    body = answer.json()
    if answer.status == 200 and isinstance(body, dict) and body.get("access_token"):
        yield Finding(OK, f"AppID {cfg.app_id} and its secret: accepted by the token endpoint")
        return
    yield Finding(
        MISSING,
        f"AppID {cfg.app_id} and its secret",
        f"refused by the token endpoint (HTTP {answer.status}: {_excerpt(answer.body)}): copy the AppID and "
        f"AppSecret again from the QQ platform (开发设置) into {cfg.secret_from}",
    )


def check_webhook(cfg: Config) -> Iterator[Finding]:
    """3. The webhook answers an op 13 URL validation, signed with the secret."""
    url = cfg.webhook_url
    if not url:
        yield Finding(MISSING, "webhook", "no URL: pass --webhook-url (the stack's QqWebhookUrl output)")
        return
    if not cfg.app_id:
        yield Finding(WARN, f"webhook {url}", "not checked: no AppID to send as X-Bot-Appid (--app-id)")
        return
    token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))
    event_ts = str(int(time.time()))
    headers = {"X-Bot-Appid": cfg.app_id, "User-Agent": "QQBot-Callback"}
    try:
        answer = request_json(
            "POST", url, {"d": {"plain_token": token, "event_ts": event_ts}, "op": 13}, headers
        )
    except Unavailable as exc:
        fix = (
            "is `make dev` running?" if cfg.local else "is the stack deployed, and the URL its QqWebhookUrl?"
        )
        yield Finding(MISSING, f"webhook {url}", f"unreachable ({exc}): {fix}")
        return
    if answer.status != 200:
        yield Finding(
            MISSING,
            f"webhook {url}",
            f"answered op 13 with HTTP {answer.status}: {_excerpt(answer.body)}"
            + _status_hint(cfg, answer.status),
        )
        return
    body = answer.json()
    if not isinstance(body, dict) or body.get("plain_token") != token:
        yield Finding(
            MISSING, f"webhook {url}", f"did not echo the plain_token sent in op 13: {_excerpt(answer.body)}"
        )
        return
    if not cfg.secret:
        yield Finding(
            WARN, f"webhook {url}", "answers op 13, but with no secret here its signature is not checked"
        )
        return
    try:
        good = qq_verify(cfg.secret, event_ts, token.encode(), str(body.get("signature", "")))
    except SignatureError as exc:
        yield Finding(MISSING, f"webhook {url}", f"answered op 13 with a malformed signature ({exc})")
        return
    if not good:
        fix = (
            "a changed parameter reaches it within 5 minutes; after that, redeploy so that it reads this one"
            if cfg.secret_from.startswith("the parameter")
            else f"store this secret in {cfg.secret_parameter or 'QqBotSecretParameterName'}"
        )
        yield Finding(
            MISSING,
            f"webhook {url}",
            f"the deployed webhook uses a different secret than {cfg.secret_from}: {fix}",
        )
        return
    yield Finding(OK, f"webhook {url}: answers op 13 signed with the secret of AppID {cfg.app_id}")


def check_egress(cfg: Config) -> Iterator[Finding]:
    """4. Whether replies leave from an address the QQ platform accepts."""
    if cfg.egress == "local":
        yield Finding(OK, "egress: the local stack sends to its fake QQ API (no whitelist locally)")
    elif cfg.egress is None:
        yield Finding(WARN, "egress", "not known: pass --egress direct|nat|relay (and --sandbox true|false)")
    elif cfg.egress == "direct" and cfg.sandbox:
        yield Finding(OK, "egress direct to the sandbox API (the sandbox has no IP whitelist)")
        yield Finding(
            WARN,
            "going live",
            "the production API needs a fixed address: redeploy with QqEgress=nat or relay",
        )
    elif cfg.egress == "direct":
        yield Finding(
            MISSING,
            "egress direct to the production API",
            "production API with no fixed address: replies fail with 11298 ip_not_whitelisted unless the bot "
            "has no whitelist; deploy with QqEgress=nat or relay, or QqSandbox=true to try in the sandbox",
        )
    elif cfg.egress == "nat":
        if cfg.egress_ip:
            yield Finding(OK, f"egress nat: whitelist {cfg.egress_ip} on the QQ platform ({WHITELIST_PAGE})")
        else:
            yield Finding(
                MISSING,
                "egress nat",
                "the stack has no QqEgressIp output: deploy it with the current template",
            )
    else:
        yield from _check_relay_queue(cfg)


def _check_relay_queue(cfg: Config) -> Iterator[Finding]:
    url = cfg.relay_queue_url
    if not url:
        yield Finding(
            MISSING,
            "egress relay",
            "the stack has no QqRelayActionQueueUrl output: deploy it with the current template",
        )
        return
    if cfg.aws is None:
        yield Finding(WARN, f"egress relay queue {url}", "not checked: no AWS configuration (--stack)")
        return
    try:
        attributes = cfg.aws.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
    except Exception as exc:  # botocore's errors: no such queue, access denied, unreachable
        yield Finding(MISSING, f"egress relay queue {url}", f"not reachable ({_one_line(exc)})")
        return
    waiting = int(attributes.get("ApproximateNumberOfMessages", 0))
    age = _oldest_message_age(cfg.aws, url.rstrip("/").rsplit("/", 1)[-1]) if waiting else None
    if age is not None and age > RELAY_STALE_S:
        yield Finding(
            WARN,
            f"egress relay queue {url}",
            f"{waiting} action(s) waiting, the oldest for {age:.0f} s: is `qqbus relay qq --actions-queue "
            f"{url}` running on the whitelisted host?",
        )
        return
    known = f", the oldest for {age:.0f} s" if age is not None else ""
    yield Finding(OK, f"egress relay: queue reachable, {waiting} action(s) waiting{known}")


def _oldest_message_age(aws: Aws, queue_name: str) -> float | None:
    """SQS's ApproximateAgeOfOldestMessage (CloudWatch; GetQueueAttributes has no age), or None."""
    now = datetime.now(UTC)
    try:
        points = aws.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": queue_name}],
            StartTime=now - timedelta(minutes=15),
            EndTime=now + timedelta(minutes=1),  # the current minute included
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
    except Exception:  # no cloudwatch:GetMetricStatistics: the age is simply not known
        return None
    return float(max(points, key=lambda p: p["Timestamp"])["Maximum"]) if points else None


CHECKS: list[Callable[[Config], Iterator[Finding]]] = [check_secret, check_token, check_webhook, check_egress]


def manual_steps(cfg: Config) -> list[str]:
    """What only the QQ platform's pages show (q.qq.com, the bot's settings)."""
    address = {
        "nat": cfg.egress_ip or "the QqEgressIp output",
        "relay": "the public IP of the host running `qqbus relay qq`",
    }.get(cfg.egress or "", "the fixed address of QqEgress=nat or relay (the sandbox needs none)")
    return [
        f"the whitelist entry ({WHITELIST_PAGE}): {address}",
        f"the callback URL {cfg.webhook_url or '(QqWebhookUrl)'} saved, with the event subscription "
        "GROUP_AND_C2C_EVENT (group @-messages, C2C messages, group and friend add/remove)",
        "a sandbox group (沙箱配置) with the bot in it, to try it before review and launch",
    ]


# ------------------------------------------------------------------ the command


def run(args: argparse.Namespace) -> int:
    """``qqbus doctor``: 0 nothing MISSING, 1 something is, 2 nothing to check."""
    try:
        cfg = configure(args)
    except UsageError as exc:
        print(f"qqbus doctor: {exc}", file=sys.stderr)
        return 2
    print(f"qqbus doctor: {cfg.source}")
    missing = 0
    for check in CHECKS:
        for finding in check(cfg):
            print(finding, flush=True)
            missing += finding.status == MISSING
    print("\nNot checked here (the QQ platform's pages show them):")
    for step in manual_steps(cfg):
        print(f"  - {step}")
    return 1 if missing else 0


def _read_parameter(aws: Aws, name: str) -> str:
    """The decrypted value of an SSM parameter or ``secretsmanager:<id>``; LookupError if none."""
    from botocore.exceptions import ClientError

    try:
        if name.startswith("secretsmanager:"):
            found = aws.client("secretsmanager").get_secret_value(
                SecretId=name.removeprefix("secretsmanager:")
            )
            return str(found.get("SecretString") or "")
        return str(aws.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ParameterNotFound", "ResourceNotFoundException"):
            raise LookupError(name) from None
        raise


def _secret_from_env(cfg: Config) -> None:
    if not cfg.secret and os.environ.get("QQ_BOT_SECRET"):
        cfg.secret, cfg.secret_from = os.environ["QQ_BOT_SECRET"], "QQ_BOT_SECRET"


def _store_command(cfg: Config, name: str, *, overwrite: bool = False) -> str:
    region = f" --region {cfg.aws.region}" if cfg.aws and cfg.aws.region else ""
    if name.startswith("secretsmanager:"):
        verb = "put-secret-value --secret-id" if overwrite else "create-secret --name"
        secret_id = name.removeprefix("secretsmanager:")
        return f"aws secretsmanager {verb} {secret_id} --secret-string '<secret>'{region}"
    return (
        f"aws ssm put-parameter --name {name} --type SecureString --value '<secret>'"
        f"{' --overwrite' if overwrite else ''}{region}"
        + ("" if overwrite else ' (or \'{"<AppID>": "<secret>"}\')')
    )


def _status_hint(cfg: Config, status: int) -> str:
    if status == 401:
        return f" (the webhook has no secret for AppID {cfg.app_id}: QqBotAppId, or the secret map's AppIDs)"
    if status == 503:
        return " (the webhook cannot read its secret: the parameter, or its permission to read it)"
    if status == 403:
        return " (a Function URL needs AuthType NONE to take the platform's requests)"
    return ""


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return (text[:limit] + "...") if len(text) > limit else (text or "(empty body)")


def _one_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
