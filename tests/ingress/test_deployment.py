"""How the ingress functions are deployed and run locally: concurrency, AppID binding, replay switch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from qqbus_dev.cli import main
from qqbus_dev.functions import DEV_QQ_APPID, DevSecrets, function_environment
from qqbus_dev.provision import local_refs
from qqbus_dev.template import CONDITIONS_KEY, Template, evaluate_conditions, resolve

from tests.support import EVENTS

INGRESS = ("QqWebhookFunction", "OnebotHttpFunction")


def _props(template: Template, refs: dict[str, Any], name: str) -> dict[str, Any]:
    return resolve(template.resources[name]["Properties"], refs)  # type: ignore[no-any-return]


@pytest.mark.parametrize("reserved, expected", [(None, 10), ("25", "25"), ("0", None)])
def test_both_ingress_functions_reserve_concurrency(
    template: Template, reserved: str | None, expected: Any
) -> None:
    refs = local_refs(template, region="us-east-1")
    if reserved is not None:  # as CloudFormation passes a Number parameter: a string
        refs["IngressReservedConcurrency"] = reserved
        refs[CONDITIONS_KEY] = evaluate_conditions(template, refs)
    for name in INGRESS:
        assert _props(template, refs, name).get("ReservedConcurrentExecutions") == expected, name


def test_every_holder_of_the_qq_secret_knows_its_appid_and_replays_stay_refused(template: Template) -> None:
    refs = local_refs(template, region="us-east-1")
    refs["QqBotAppId"] = "102000777"
    holders = [f for f in template.functions() if "QQ_BOT_SECRET_PARAMETER" in f.environment]
    assert "QqWebhookFunction" in {f.logical_id for f in holders}
    for fn in holders:
        env = _props(template, refs, fn.logical_id)["Environment"]["Variables"]
        assert env["QQ_BOT_APPID"] == "102000777", fn.logical_id
    assert template.data["Parameters"]["QqBotAppId"]["AllowedPattern"] == "^[0-9]*$"
    for name in INGRESS:
        assert _props(template, refs, name)["Environment"]["Variables"]["QQBUS_ALLOW_REPLAYS"] == "false"


def test_local_runs_bind_the_dev_appid_and_accept_the_dated_examples(template: Template) -> None:
    env_file = json.loads((EVENTS / "env.local.json").read_text())
    assert env_file["QqWebhookFunction"]["QQ_BOT_APPID"] == DEV_QQ_APPID
    assert {env_file[name]["QQBUS_ALLOW_REPLAYS"] for name in INGRESS} == {"true"}
    refs = local_refs(template, region="us-east-1")
    by_id = {spec.logical_id: spec for spec in template.functions()}
    env = function_environment(by_id["QqWebhookFunction"], refs, DevSecrets())
    assert (env["QQ_BOT_APPID"], env["QQBUS_ALLOW_REPLAYS"]) == (DEV_QQ_APPID, "true")
    handler_env = function_environment(by_id["QqGroupAddRobotFunction"], refs, DevSecrets())
    assert "QQBUS_ALLOW_REPLAYS" not in handler_env


def test_qqbus_invoke_runs_the_signed_qq_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoke", "qq_webhook", str(EVENTS / "qq_webhook.json")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"')]
    result = next(line for line in lines if "result" in line)["result"]
    assert result["statusCode"] == 200, result
    (event,) = [line["on_the_bus"]["event"] for line in lines if "on_the_bus" in line]
    assert event["detail"]["bot_id"] == DEV_QQ_APPID
