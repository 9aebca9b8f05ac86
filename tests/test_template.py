"""template.yaml, offline: SAM transforms it, cfn-lint passes it, and it keeps the contract."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from qqbus_dev.template import TEMPLATE_PATH, Template

from tests.support import (
    ACTION_ASKERS,
    CONTRACT,
    SENDERS,
    SOURCE_HANDLERS,
    STATE_WRITERS,
    SUB_TYPES,
    USERS_WRITERS,
)


class _OfflinePolicies:
    """SAM asks IAM for managed policy ARNs; offline we name the ones it may ask for."""

    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
        }


@pytest.fixture(scope="module")
def transformed(template: Template) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    data = copy.deepcopy(template.data)
    for res in data["Resources"].values():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = f"s3://qqbus-artifacts/{props[key].strip('/').replace('/', '-')}.zip"
    return transform(data, {}, _OfflinePolicies())  # type: ignore[no-any-return]


def test_sam_transforms_the_template(transformed: dict[str, Any]) -> None:
    types = {r["Type"] for r in transformed["Resources"].values()}
    assert "AWS::Lambda::Function" in types and "AWS::Events::Rule" in types
    assert not any(t.startswith("AWS::Serverless::") for t in types)


def test_cfn_lint_reports_no_errors() -> None:
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE_PATH)
    errors = [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_each_event_type_has_exactly_one_function_on_the_bus(template: Template) -> None:
    by_type: dict[tuple[str, ...], list[str]] = {}
    for folder, handled in [*CONTRACT.items(), *SUB_TYPES.items()]:
        by_type.setdefault(handled, []).append(folder)
    assert all(len(folders) == 1 for folders in by_type.values()), by_type
    whole = set(CONTRACT.values())
    assert not [h for h in SUB_TYPES.values() if h[:2] in whole], "a sub_type of a type handled whole"
    for fn in template.event_functions():
        assert fn.code_uri.rstrip("/") == f"handlers/{fn.folder}"
        assert fn.rule["EventBusName"] == {"Ref": "EventBus"}
        assert (
            fn.folder in CONTRACT
            or fn.folder in SUB_TYPES
            or fn.folder in SENDERS
            or fn.folder in SOURCE_HANDLERS
        ), fn.folder


def test_senders_take_every_action_of_their_protocol(template: Template) -> None:
    assert SENDERS == {"qq_sender": ("qqbus.action", "qq."), "onebot_sender": ("qqbus.action", "onebot.")}


def test_catch_all_excludes_exactly_the_handled_types(template: Template) -> None:
    rule = template.bus_rules()["UnhandledEventsRule"]
    pattern = rule["Properties"]["EventPattern"]
    handled: dict[str, set[str]] = {}
    sub_types: dict[tuple[str, str], set[str]] = {}
    for source, detail_type in CONTRACT.values():
        handled.setdefault(source, set()).add(detail_type)
    for source, detail_type, sub_type in SUB_TYPES.values():
        handled.setdefault(source, set()).add(detail_type)  # whole types out; their other sub_types back in
        sub_types.setdefault((source, detail_type), set()).add(sub_type)
    branches = {b["source"][0]: b for b in pattern["$or"] if isinstance(b["detail-type"][0], dict)}
    assert set(branches) == set(handled)
    for source, branch in branches.items():
        (anything_but,) = branch["detail-type"]
        assert set(anything_but["anything-but"]) == handled[source]
        assert len(anything_but["anything-but"]) == len(handled[source])
    sub_branches = {}
    for b in pattern["$or"]:
        if isinstance(b["detail-type"][0], str):
            matchers = b["detail"]["payload"]["sub_type"]
            assert {"exists": False} in matchers  # no sub_type at all: still caught
            (but,) = [m["anything-but"] for m in matchers if "anything-but" in m]
            sub_branches[(b["source"][0], b["detail-type"][0])] = set(but)
    assert sub_branches == sub_types
    assert rule["Properties"]["EventBusName"] == {"Ref": "EventBus"}


def test_action_results_go_to_their_own_log(template: Template) -> None:
    rule = template.bus_rules()["ActionResultsRule"]["Properties"]
    assert rule["EventPattern"] == {"source": ["qqbus.action.result"]}
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["ActionResultsLogGroup", "Arn"]}


def test_every_function_has_retry_policy_dlq_and_failure_destination(template: Template) -> None:
    for fn in template.event_functions():
        assert fn.rule["RetryPolicy"]["MaximumRetryAttempts"] >= 1, fn.logical_id
        assert fn.rule["RetryPolicy"]["MaximumEventAgeInSeconds"] > 0
        assert fn.rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]}}
        invoke = fn.properties["EventInvokeConfig"]  # from Globals, as SAM merges it
        assert invoke["MaximumRetryAttempts"] == 2
        assert invoke["DestinationConfig"]["OnFailure"]["Type"] == "SQS"


def test_rules_in_the_transformed_template_have_dlq_and_retry(transformed: dict[str, Any]) -> None:
    rules = {k: r for k, r in transformed["Resources"].items() if r["Type"] == "AWS::Events::Rule"}
    lambda_targets = [t for r in rules.values() for t in r["Properties"]["Targets"] if "RetryPolicy" in t]
    assert len(lambda_targets) == len(CONTRACT) + len(SUB_TYPES) + len(SENDERS) + len(SOURCE_HANDLERS)
    for target in lambda_targets:
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]}


def _statements(fn_props: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in fn_props.get("Policies", []) for s in policy.get("Statement", [])]


def _touches(fn: Any, resource: str, action: str) -> bool:
    return any(
        resource in json.dumps(s["Resource"]) and action in s["Action"] for s in _statements(fn.properties)
    )


def test_least_privilege_by_what_each_handler_does(template: Template) -> None:
    """Code that writes state has the groups table (and the table comes with its name); code that
    asks for actions has PutEvents, and nothing else has it."""
    for fn in template.event_functions():
        may_write = _touches(fn, "GroupsTable", "dynamodb:UpdateItem")
        if fn.folder in STATE_WRITERS:
            assert may_write, f"{fn.folder} writes group state without the groups table"
        reads = fn.folder in SENDERS
        assert ("GROUPS_TABLE_NAME" in fn.environment) == (may_write or reads), fn.folder
        may_write_users = _touches(fn, "UsersTable", "dynamodb:UpdateItem")
        if fn.folder in USERS_WRITERS:
            assert may_write_users, f"{fn.folder} writes user state without the users table"
        reads_users = fn.folder == "qq_sender"
        assert ("USERS_TABLE_NAME" in fn.environment) == (may_write_users or reads_users), fn.folder
        asks = fn.folder in ACTION_ASKERS or fn.folder in SENDERS
        assert _touches(fn, "EventBus", "events:PutEvents") == asks, fn.folder
        assert ("EVENT_BUS_NAME" in fn.environment) == asks, fn.folder
        for statement in _statements(fn.properties):
            if statement["Action"] == ["scheduler:CreateSchedule"]:  # names made at run time, one group
                assert json.dumps(statement["Resource"]).endswith('schedule/${ScheduleGroup}/qqbus-*"}'), (
                    fn.folder
                )
                continue
            assert "*" not in json.dumps(statement["Resource"]), fn.folder
            assert not any(a.endswith("*") for a in statement["Action"]), fn.folder


def test_only_the_senders_hold_send_credentials(template: Template) -> None:
    for fn in template.functions():
        reads_qq_secret = "QQ_BOT_SECRET_PARAMETER" in fn.environment
        assert reads_qq_secret == (fn.folder in ("qq_webhook", "qq_sender")), fn.folder
        assert ("ONEBOT_API_URL" in fn.environment) == (fn.folder == "onebot_sender"), fn.folder
        assert _touches(fn, "ActionsTable", "dynamodb:UpdateItem") == (fn.folder in SENDERS), fn.folder
        assert _touches(fn, "RelayActionQueue", "sqs:SendMessage") == (fn.folder == "onebot_sender")


def test_globals_send_failed_async_invocations_to_the_failure_queue(template: Template) -> None:
    invoke = template.data["Globals"]["Function"]["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["HandlerFailureQueue", "Arn"]},
    }


def test_globals_pin_a_current_python_runtime_and_powertools_env(template: Template) -> None:
    glob = template.data["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13"
    assert glob["Tracing"] == {"Ref": "Tracing"}  # X-Ray on demand: see the parameter
    assert template.parameter_defaults()["Tracing"] == "PassThrough"
    env = template.globals_environment
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "IDEMPOTENCY_TABLE_NAME"} <= set(env)
    layer = template.resources["QqbusLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"  # layers/qqbus/Makefile: build-QqbusLayer
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/qqbus"
    assert layer["Properties"]["CompatibleRuntimes"] == [glob["Runtime"]]
    for logical_id, res in template.of_type("AWS::Serverless::LayerVersion").items():
        makefile = (TEMPLATE_PATH.parent / res["Properties"]["ContentUri"] / "Makefile").read_text()
        assert f"build-{logical_id}:" in makefile  # sam build runs it in a copy of ContentUri


def test_tables_keys_and_ttl(template: Template) -> None:
    groups = template.resources["GroupsTable"]["Properties"]
    assert groups["KeySchema"] == [
        {"AttributeName": "bot_id", "KeyType": "HASH"},
        {"AttributeName": "group_id", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in groups["AttributeDefinitions"]} == {
        "bot_id": "S",
        "group_id": "S",
    }
    idem = template.resources["IdempotencyTable"]["Properties"]
    assert idem["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_archive_and_outputs(template: Template) -> None:
    archive = template.resources["EventArchive"]["Properties"]
    assert archive["SourceArn"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    sources = {s for s, _ in CONTRACT.values()} | {"qqbus.action", "qqbus.action.result"}
    sources |= set(SOURCE_HANDLERS.values()) - {"qqbus.action.result"}  # schedules: replayable too
    assert set(archive["EventPattern"]["source"]) == sources
    assert {"EventBusName", "GroupsTableName", "IdempotencyTableName", "RelayActionQueueUrl"} <= set(
        template.data["Outputs"]
    )


INGRESS = {"qq_webhook": "QqBotSecretParameterName", "onebot_http": "OnebotSecretParameterName"}


def test_ingress_functions_have_urls_put_events_and_read_only_their_secret(template: Template) -> None:
    functions = {f.folder: f for f in template.functions()}
    for folder, parameter in INGRESS.items():
        fn = functions[folder]
        assert fn.pattern is None
        assert fn.properties["FunctionUrlConfig"] == {"AuthType": "NONE"}
        assert fn.environment["EVENT_BUS_NAME"] == {"Ref": "EventBus"}
        policies = json.dumps(fn.properties["Policies"])
        statements = [
            st
            for policy in fn.properties["Policies"]
            for st in (
                policy.get("Statement") or policy.get("Fn::If", [None, {}, {}])[1].get("Statement", [])
            )
        ]
        actions = sorted(a for st in statements for a in st["Action"])
        assert actions == ["events:PutEvents", "ssm:GetParameter"], folder
        assert "GroupsTable" not in policies and "IdempotencyTable" not in policies
        put = next(st for st in statements if st["Action"] == ["events:PutEvents"])
        assert put["Resource"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
        ssm = next(st for st in statements if st["Action"] == ["ssm:GetParameter"])
        assert "${" + parameter + "}" in ssm["Resource"]["Fn::Sub"]


def test_transformed_template_has_function_urls(transformed: dict[str, Any]) -> None:
    urls = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::Url"]
    assert len(urls) == 2
    assert {"QqWebhookUrl", "OnebotHttpUrl"} <= set(transformed["Outputs"])


def test_dashboard_body_is_json_and_alarms_watch_the_failure_paths(template: Template) -> None:
    from qqbus_dev.provision import local_refs
    from qqbus_dev.template import resolve

    refs = local_refs(template, "us-east-1", stage="t")
    body = json.loads(resolve(template.resources["Dashboard"]["Properties"]["DashboardBody"], refs))
    metrics = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    assert ["qqbus", "InvalidEvents", "service", "qqbus"] in metrics
    assert [
        "AWS/Events",
        "MatchedEvents",
        "EventBusName",
        "qqbus-t",
        "RuleName",
        "qqbus-t-unhandled",
    ] in metrics
    alarmed = {
        json.dumps(r["Properties"].get("Dimensions"))
        for r in template.of_type("AWS::CloudWatch::Alarm").values()
    }
    assert any("DeliveryDeadLetterQueue" in a for a in alarmed) and any(
        "HandlerFailureQueue" in a for a in alarmed
    )
    alarmed_metrics = {
        r["Properties"]["MetricName"] for r in template.of_type("AWS::CloudWatch::Alarm").values()
    }
    assert "ActionsFailed" in alarmed_metrics
    assert ["qqbus", "ActionsFailed", "service", "qqbus"] in metrics


def test_every_alarm_notifies_the_alarm_topic_when_an_email_is_given(template: Template) -> None:
    alarms = template.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 4
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == {
            "Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]
        }, logical_id
    topic = template.resources["AlarmTopic"]
    assert topic["Condition"] == "HasAlarmEmail"
    assert topic["Properties"]["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]


def test_every_function_logs_to_a_group_with_a_retention(template: Template) -> None:
    logging = template.data["Globals"]["Function"]["LoggingConfig"]
    assert logging == {"LogFormat": "JSON", "LogGroup": {"Ref": "FunctionsLogGroup"}}
    group = template.resources["FunctionsLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert all(
        "LoggingConfig" not in fn.properties or fn.properties["LoggingConfig"] == logging
        for fn in template.functions()
    )
    for res in template.of_type("AWS::Logs::LogGroup").values():
        assert "RetentionInDays" in res["Properties"]


def test_snapstart_is_a_parameter_and_everything_invokes_the_alias(transformed: dict[str, Any]) -> None:
    """SnapStart runs only published versions: rules, URLs and failure destinations use the alias."""
    resources = transformed["Resources"]
    assert transformed["Parameters"]["SnapStart"]["AllowedValues"] == ["None", "PublishedVersions"]
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    aliases = {
        r["Properties"]["FunctionName"]["Ref"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Alias"
    }
    assert aliases == set(functions)
    for fn in functions.values():
        assert fn["Properties"]["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
    targets = [
        t for r in resources.values() if r["Type"] == "AWS::Events::Rule" for t in r["Properties"]["Targets"]
    ]
    to_functions = [t for t in targets if "Ref" in t["Arn"] and t["Arn"]["Ref"].startswith(tuple(functions))]
    assert to_functions and all(t["Arn"]["Ref"].endswith("Aliaslive") for t in to_functions)
    urls = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Url"]
    assert urls and all(u["Properties"]["TargetFunctionArn"]["Ref"].endswith("Aliaslive") for u in urls)
    configs = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert configs and all(c["Properties"]["Qualifier"] == "live" for c in configs)
