"""QqEgress and QqSandbox (DESIGN "QQ in production"): what each value deploys, offline.

The template is transformed by the SAM translator, its Conditions are evaluated for each
parameter value (by the small evaluator here, independent of qqbus_dev), and the resources
that would exist are checked: only ``nat`` makes VPC/NAT/EIP resources, only ``relay`` makes
its queue, ``direct`` makes nothing new, and the QQ sender's Environment and role follow.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from qqbus_dev.provision import create_queues, local_refs
from qqbus_dev.template import CONDITIONS_KEY, TEMPLATE_PATH, Template, resolve

EGRESS = ["direct", "nat", "relay"]
SANDBOX = ["false", "true"]
PRODUCTION_API = "https://api.sgroup.qq.com"
SANDBOX_API = "https://sandbox.api.sgroup.qq.com"
VPC_ACCESS_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
#: What AWSLambdaVPCAccessExecutionRole grants besides logs (the network interfaces of a VPC function).
VPC_ACCESS_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
NEEDED_VPC_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
#: The queues that exist whatever QqEgress is.
UNCONDITIONAL_QUEUES = {
    "DeliveryDeadLetterQueue",
    "HandlerFailureQueue",
    "RelayActionQueue",
    "ScheduleFailureQueue",
}
PSEUDO = {
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
}


class _OfflinePolicies:
    """SAM asks IAM for managed policy ARNs; offline we name the ones it may ask for."""

    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        }


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    """template.yaml as CloudFormation: what SAM makes of it (code locations made up)."""
    from samtranslator.translator.transform import transform

    data = copy.deepcopy(Template.read().data)
    for res in data["Resources"].values():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = f"s3://qqbus-artifacts/{props[key].strip('/').replace('/', '-')}.zip"
    return transform(data, {}, _OfflinePolicies())  # type: ignore[no-any-return]


# ---------------------------------------------------------------- a small CloudFormation evaluator

_NO_VALUE = object()


def _value(node: Any, params: dict[str, str], conditions: dict[str, bool]) -> Any:
    """A condition operand: a parameter's value (as the string CloudFormation compares), or a literal."""
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return params[node["Ref"]]
    if isinstance(node, dict) and len(node) == 1:
        return _condition(node, params, conditions)
    return str(node)


def _condition(node: Any, params: dict[str, str], conditions: dict[str, bool]) -> bool:
    ((fn, arg),) = node.items()
    if fn == "Fn::Equals":
        left, right = (_value(a, params, conditions) for a in arg)
        return bool(left == right)
    if fn == "Fn::Not":
        return not _condition(arg[0], params, conditions)
    if fn == "Fn::And":
        return all(_condition(a, params, conditions) for a in arg)
    if fn == "Fn::Or":
        return any(_condition(a, params, conditions) for a in arg)
    if fn == "Condition":
        return conditions[arg]
    raise AssertionError(f"not a condition function: {fn}")


def evaluate(template: dict[str, Any], **overrides: str) -> tuple[dict[str, str], dict[str, bool]]:
    """Parameter values (defaults, then ``overrides``, refused outside AllowedValues) and Conditions."""
    params = {}
    for name, spec in template["Parameters"].items():
        value = str(overrides.pop(name, spec.get("Default", "")))
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], f"CloudFormation refuses {name}={value}"
        params[name] = value
    assert not overrides, f"no such parameters: {overrides}"
    conditions: dict[str, bool] = {}
    for name, expression in template.get("Conditions", {}).items():
        conditions[name] = _condition(expression, params, conditions)
    return params, conditions


def chosen(node: Any, conditions: dict[str, bool]) -> Any:
    """``node`` with every Fn::If replaced by its branch, and AWS::NoValue removed."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        name, if_true, if_false = node["Fn::If"]
        return chosen(if_true if conditions[name] else if_false, conditions)
    if isinstance(node, dict) and node == {"Ref": "AWS::NoValue"}:
        return _NO_VALUE
    if isinstance(node, dict):
        items = {k: chosen(v, conditions) for k, v in node.items()}
        return {k: v for k, v in items.items() if v is not _NO_VALUE}
    if isinstance(node, list):
        return [v for v in (chosen(v, conditions) for v in node) if v is not _NO_VALUE]
    return node


class Deployed:
    """What CloudFormation would create from the transformed template for these parameter values."""

    def __init__(self, sam: dict[str, Any], **overrides: str) -> None:
        self.params, self.conditions = evaluate(sam, **overrides)

        def holds(entry: dict[str, Any]) -> bool:
            return "Condition" not in entry or self.conditions[entry["Condition"]]

        self.resources = {k: chosen(r, self.conditions) for k, r in sam["Resources"].items() if holds(r)}
        self.outputs = {k: chosen(o, self.conditions) for k, o in sam.get("Outputs", {}).items() if holds(o)}

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        """Resources of ``type_`` (``AWS::EC2::``: of every type in that service)."""
        if type_.endswith("::"):
            return {k: r for k, r in self.resources.items() if r["Type"].startswith(type_)}
        return {k: r for k, r in self.resources.items() if r["Type"] == type_}

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id].get("Properties", {})  # type: ignore[no-any-return]

    def sender_env(self) -> dict[str, Any]:
        return self.props("QqSenderFunction")["Environment"]["Variables"]  # type: ignore[no-any-return]

    def role_grants(self, function: str) -> list[tuple[set[str], Any]]:
        """(actions, resource) of each statement the function's role holds, managed VPC policy included."""
        role = self.props(self.props(function)["Role"]["Fn::GetAtt"][0])
        grants = []
        for policy in role.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                grants.append(
                    (set([actions] if isinstance(actions, str) else actions), statement["Resource"])
                )
        if VPC_ACCESS_POLICY in json.dumps(role.get("ManagedPolicyArns", [])):
            grants.append((VPC_ACCESS_ACTIONS, "*"))
        return grants

    def grants(self, function: str, action: str, resource: Any) -> bool:
        return any(action in actions and res == resource for actions, res in self.role_grants(function))


def _targets(node: Any) -> set[str]:
    """Every logical id or parameter ``node`` refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text, extra = (value, {}) if isinstance(value, str) else (value[0], value[1])
                names = {m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= names - set(extra)
                found |= _targets(extra)
            else:
                found |= _targets(value)
    elif isinstance(node, list):
        for value in node:
            found |= _targets(value)
    return found


CASES = list(itertools.product(EGRESS, SANDBOX))


@pytest.fixture(scope="module")
def deployments(sam: dict[str, Any]) -> dict[tuple[str, str], Deployed]:
    return {(e, s): Deployed(sam, QqEgress=e, QqSandbox=s) for e, s in CASES}


# ---------------------------------------------------------------- the parameters


def test_egress_parameters_are_the_contract(template: Template) -> None:
    """An unknown QqEgress is refused by CloudFormation: exactly these AllowedValues, default direct."""
    egress = template.data["Parameters"]["QqEgress"]
    assert egress["Type"] == "String"
    assert egress["AllowedValues"] == ["direct", "nat", "relay"]
    assert egress["Default"] == "direct"
    for value in EGRESS:
        assert f"{value} -" in egress["Description"], f"the Description does not say what {value} does"
    sandbox = template.data["Parameters"]["QqSandbox"]
    assert sandbox["Type"] == "String"
    assert sandbox["AllowedValues"] == ["true", "false"]
    assert sandbox["Default"] == "false"
    assert {"QqEgressNat", "QqEgressRelay", "QqSandboxOn"} <= set(template.data["Conditions"])


def test_the_evaluator_refuses_a_value_outside_allowed_values(sam: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match="refuses QqEgress=vpc"):
        evaluate(sam, QqEgress="vpc")
    with pytest.raises(AssertionError, match="refuses QqSandbox=yes"):
        evaluate(sam, QqSandbox="yes")


@pytest.mark.parametrize(("egress", "sandbox"), CASES)
def test_conditions_follow_the_parameters(sam: dict[str, Any], egress: str, sandbox: str) -> None:
    _, conditions = evaluate(sam, QqEgress=egress, QqSandbox=sandbox)
    assert conditions["QqEgressNat"] == (egress == "nat")
    assert conditions["QqEgressRelay"] == (egress == "relay")
    assert conditions["QqSandboxOn"] == (sandbox == "true")


# ---------------------------------------------------------------- what each value creates


@pytest.mark.parametrize(("egress", "sandbox"), CASES)
def test_every_reference_of_a_deployment_exists(
    deployments: dict[tuple[str, str], Deployed], egress: str, sandbox: str
) -> None:
    """No resource or output that exists refers to one that does not (under any value)."""
    d = deployments[(egress, sandbox)]
    known = set(d.resources) | set(d.params) | PSEUDO
    for logical_id, entry in [*d.resources.items(), *d.outputs.items()]:
        depends = entry.get("DependsOn", [])
        missing = (_targets(entry) | set([depends] if isinstance(depends, str) else depends)) - known
        assert not missing, f"{logical_id} refers to {sorted(missing)}, which {egress} does not create"


@pytest.mark.parametrize("sandbox", SANDBOX)
def test_direct_creates_nothing_new(deployments: dict[tuple[str, str], Deployed], sandbox: str) -> None:
    d = deployments[("direct", sandbox)]
    assert d.of_type("AWS::EC2::") == {}
    assert set(d.of_type("AWS::SQS::Queue")) == UNCONDITIONAL_QUEUES
    assert "QqRelayActionQueue" not in d.resources
    assert not {"QqEgressIp", "QqRelayActionQueueUrl"} & set(d.outputs)
    assert all("VpcConfig" not in fn["Properties"] for fn in d.of_type("AWS::Lambda::Function").values())
    # Exactly what exists without the egress conditions: nothing else is conditioned on QqEgress.
    nat_or_relay = {"QqEgressNat", "QqEgressRelay"}
    for logical_id, res in d.resources.items():
        assert res.get("Condition") not in nat_or_relay, logical_id


def test_only_nat_makes_ec2_resources(sam: dict[str, Any]) -> None:
    ec2 = {k: r for k, r in sam["Resources"].items() if r["Type"].startswith("AWS::EC2::")}
    assert ec2, "no EC2 resource at all: where is the nat VPC?"
    assert {r.get("Condition") for r in ec2.values()} == {"QqEgressNat"}


@pytest.mark.parametrize("sandbox", SANDBOX)
def test_nat_makes_a_vpc_with_one_nat_gateway_and_one_address(
    deployments: dict[tuple[str, str], Deployed], sandbox: str
) -> None:
    d = deployments[("nat", sandbox)]
    (vpc,) = d.of_type("AWS::EC2::VPC")
    in_vpc = {"Ref": vpc}
    (nat_id,) = d.of_type("AWS::EC2::NatGateway")
    (eip_id,) = d.of_type("AWS::EC2::EIP")
    assert eip_id == "QqEgressEip"
    assert d.props(eip_id)["Domain"] == "vpc"
    assert d.props(nat_id)["AllocationId"] == {"Fn::GetAtt": ["QqEgressEip", "AllocationId"]}

    routes = d.of_type("AWS::EC2::Route")
    associations = d.of_type("AWS::EC2::SubnetRouteTableAssociation")

    def default_route(subnet: str) -> dict[str, Any]:
        (table,) = [
            a["Properties"]["RouteTableId"]
            for a in associations.values()
            if a["Properties"]["SubnetId"] == {"Ref": subnet}
        ]
        (route,) = [
            r["Properties"]
            for r in routes.values()
            if r["Properties"]["RouteTableId"] == table
            and r["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
        ]
        return route

    # The QQ sender's subnets: two, private (default route -> the NAT gateway), in two AZs.
    vpc_config = d.props("QqSenderFunction")["VpcConfig"]
    private = [s["Ref"] for s in vpc_config["SubnetIds"]]
    assert len(private) == 2
    azs = [json.dumps(d.props(s)["AvailabilityZone"], sort_keys=True) for s in private]
    assert len(set(azs)) == 2
    assert {d.props(s)["AvailabilityZone"]["Fn::Select"][0] for s in private} == {0, 1}
    for subnet in private:
        assert d.props(subnet)["VpcId"] == in_vpc
        assert default_route(subnet).get("NatGatewayId") == {"Ref": nat_id}
        assert "GatewayId" not in default_route(subnet)

    # The NAT gateway's subnet: public (default route -> the internet gateway of the VPC).
    public = d.props(nat_id)["SubnetId"]["Ref"]
    assert public not in private and d.props(public)["VpcId"] == in_vpc
    (igw,) = d.of_type("AWS::EC2::InternetGateway")
    assert default_route(public)["GatewayId"] == {"Ref": igw}
    (attachment,) = d.of_type("AWS::EC2::VPCGatewayAttachment").values()
    assert attachment["Properties"] == {"VpcId": in_vpc, "InternetGatewayId": {"Ref": igw}}
    assert len(d.of_type("AWS::EC2::Subnet")) == 3

    # DynamoDB through a gateway endpoint on the private subnets' route table.
    (endpoint,) = d.of_type("AWS::EC2::VPCEndpoint").values()
    props = endpoint["Properties"]
    assert props["VpcEndpointType"] == "Gateway"
    assert props["VpcId"] == in_vpc
    assert "dynamodb" in json.dumps(props["ServiceName"])
    private_tables = {
        json.dumps(a["Properties"]["RouteTableId"])
        for a in associations.values()
        if a["Properties"]["SubnetId"]["Ref"] in private
    }
    assert {json.dumps(t) for t in props["RouteTableIds"]} == private_tables

    # The sender's security group: HTTPS out, nothing in.
    (sg_ref,) = vpc_config["SecurityGroupIds"]
    sg = d.props(sg_ref["Ref"])
    assert d.resources[sg_ref["Ref"]]["Type"] == "AWS::EC2::SecurityGroup"
    assert sg["VpcId"] == in_vpc
    assert "SecurityGroupIngress" not in sg
    assert [
        (r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIp"]) for r in sg["SecurityGroupEgress"]
    ] == [("tcp", 443, 443, "0.0.0.0/0")]

    # The address to whitelist, as an output.
    assert d.outputs["QqEgressIp"]["Value"] == {"Ref": "QqEgressEip"}
    assert "whitelist" in d.outputs["QqEgressIp"]["Description"]
    assert "QqRelayActionQueue" not in d.resources and "QqRelayActionQueueUrl" not in d.outputs


@pytest.mark.parametrize(("egress", "sandbox"), CASES)
def test_only_the_qq_sender_joins_the_vpc(
    deployments: dict[tuple[str, str], Deployed], egress: str, sandbox: str
) -> None:
    d = deployments[(egress, sandbox)]
    in_vpc = {k for k, fn in d.of_type("AWS::Lambda::Function").items() if "VpcConfig" in fn["Properties"]}
    assert in_vpc == ({"QqSenderFunction"} if egress == "nat" else set())


@pytest.mark.parametrize("sandbox", SANDBOX)
def test_the_sender_may_manage_its_network_interfaces_under_nat(
    deployments: dict[tuple[str, str], Deployed], sandbox: str
) -> None:
    d = deployments[("nat", sandbox)]
    granted = set().union(*(actions for actions, _ in d.role_grants("QqSenderFunction")))
    assert granted >= NEEDED_VPC_ACTIONS


@pytest.mark.parametrize("sandbox", SANDBOX)
def test_relay_makes_its_queue_and_nothing_in_ec2(
    deployments: dict[tuple[str, str], Deployed], sandbox: str
) -> None:
    d = deployments[("relay", sandbox)]
    assert d.of_type("AWS::EC2::") == {}
    assert set(d.of_type("AWS::SQS::Queue")) == UNCONDITIONAL_QUEUES | {"QqRelayActionQueue"}
    queue = d.props("QqRelayActionQueue")
    assert queue["QueueName"] == {"Fn::Sub": "qqbus-${Stage}-qq-relay-actions"}
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 3600
    assert queue["VisibilityTimeout"] == 60
    output = d.outputs["QqRelayActionQueueUrl"]
    assert output["Value"] == {"Ref": "QqRelayActionQueue"}
    assert "qqbus relay qq --actions-queue" in output["Description"]
    assert "QqEgressIp" not in d.outputs
    assert all("VpcConfig" not in fn["Properties"] for fn in d.of_type("AWS::Lambda::Function").values())


# ---------------------------------------------------------------- the QQ sender's Environment and role


@pytest.mark.parametrize(("egress", "sandbox"), CASES)
def test_the_sender_environment_follows_the_parameters(
    deployments: dict[tuple[str, str], Deployed], egress: str, sandbox: str
) -> None:
    env = deployments[(egress, sandbox)].sender_env()
    assert env["QQ_API_BASE"] == (SANDBOX_API if sandbox == "true" else PRODUCTION_API)
    assert env["QQ_EGRESS"] == {"Ref": "QqEgress"}
    assert ("QQ_EGRESS_IP" in env) == (egress == "nat")
    if egress == "nat":
        assert env["QQ_EGRESS_IP"] == {"Ref": "QqEgressEip"}
    assert ("QQ_RELAY_QUEUE_URL" in env) == (egress == "relay")
    if egress == "relay":
        assert env["QQ_RELAY_QUEUE_URL"] == {"Ref": "QqRelayActionQueue"}
    assert env["HANDLER_FAILURE_QUEUE_URL"] == {"Ref": "HandlerFailureQueue"}


@pytest.mark.parametrize(("egress", "sandbox"), CASES)
def test_the_sender_may_park_and_hand_to_the_relay_only_where_it_exists(
    deployments: dict[tuple[str, str], Deployed], egress: str, sandbox: str
) -> None:
    d = deployments[(egress, sandbox)]
    failures = {"Fn::GetAtt": ["HandlerFailureQueue", "Arn"]}
    relay = {"Fn::GetAtt": ["QqRelayActionQueue", "Arn"]}
    assert d.grants("QqSenderFunction", "sqs:SendMessage", failures)
    assert d.grants("QqSenderFunction", "sqs:SendMessage", relay) == (egress == "relay")
    for function in d.of_type("AWS::Lambda::Function"):
        if function != "QqSenderFunction":
            assert not d.grants(function, "sqs:SendMessage", relay), function


# ---------------------------------------------------------------- cfn-lint, per value


@pytest.mark.parametrize("egress", EGRESS)
def test_cfn_lint_reports_no_errors_for_each_egress(egress: str) -> None:
    """cfn-lint with the parameter values (its --parameters): no error, and no reference to a
    resource whose Condition may be false (W1001)."""
    from cfnlint.api import ManualArgs, lint_file

    config = ManualArgs(parameters=[{"QqEgress": egress, "QqSandbox": sandbox} for sandbox in SANDBOX])
    matches = lint_file(Path(TEMPLATE_PATH), config)
    problems = [
        f"{m.rule.id} {m.message} (line {m.linenumber})"
        for m in matches
        if m.rule.id.startswith("E") or m.rule.id == "W1001"
    ]
    assert problems == []


# ---------------------------------------------------------------- the local stack (defaults)


def test_the_local_stack_creates_only_the_queues_whose_condition_holds(template: Template) -> None:
    refs = local_refs(template, "us-east-1", stage="t")
    assert refs[CONDITIONS_KEY]["QqEgressRelay"] is False  # the default, direct
    with mock_aws():
        sqs = boto3.client("sqs")
        queues = create_queues(template, sqs, refs)
        assert set(queues) == UNCONDITIONAL_QUEUES
        assert not any("qq-relay-actions" in url for url in sqs.list_queues().get("QueueUrls", []))
        relay_refs = {**refs, CONDITIONS_KEY: {**refs[CONDITIONS_KEY], "QqEgressRelay": True}}
        assert "QqRelayActionQueue" in create_queues(template, sqs, relay_refs)


def test_the_local_sender_environment_with_the_defaults(template: Template) -> None:
    refs = local_refs(template, "us-east-1", stage="t")
    with mock_aws():
        refs.update(create_queues(template, boto3.client("sqs"), refs))
    (sender,) = [f for f in template.functions() if f.logical_id == "QqSenderFunction"]
    env = resolve(sender.environment, refs)
    assert env["QQ_API_BASE"] == PRODUCTION_API
    assert env["QQ_EGRESS"] == "direct"
    assert "QQ_EGRESS_IP" not in env and "QQ_RELAY_QUEUE_URL" not in env
    assert env["HANDLER_FAILURE_QUEUE_URL"] == refs["HandlerFailureQueue"]
    assert env["HANDLER_FAILURE_QUEUE_URL"].endswith("/qqbus-t-handler-failures")
    assert "VpcConfig" not in resolve(sender.properties, refs)
