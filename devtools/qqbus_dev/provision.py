"""Create the template's tables, bus and routes on an (embedded) AWS, by the template's own words.

The local stack and the tests call these against moto: the DynamoDB tables are made from the
``AWS::DynamoDB::Table`` resources, the bus from ``AWS::Events::EventBus``, and every rule from
the function's ``EventBridgeRule`` pattern (or the catch-all's ``EventPattern``) with an SQS
queue as its target, since moto delivers bus events to SQS and not to Lambda.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from qqbus_dev.template import CONDITIONS_KEY, Template, evaluate_conditions, resolve

ACCOUNT_ID = "123456789012"
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Events::EventBus": "Name",
    "AWS::SQS::Queue": "QueueName",
}
ARN_FORMATS = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::Events::EventBus": "arn:aws:events:{region}:{account}:event-bus/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
}


def local_refs(
    template: Template, region: str, stage: str | None = None, parameters: dict[str, str] | None = None
) -> dict[str, Any]:
    """What ``Ref``/``GetAtt``/``Sub`` resolve to locally: parameters (the defaults, then
    ``parameters``, as ``--parameter-overrides`` gives them), pseudo parameters, names."""
    params = {**template.parameter_defaults(), **(parameters or {})}
    if stage is not None:
        params["Stage"] = stage
    refs: dict[str, Any] = {
        **params,
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
    }
    for logical_id, res in template.resources.items():
        prop = NAME_PROPERTIES.get(res["Type"])
        if prop is None or prop not in res.get("Properties", {}):
            continue
        name = resolve(res["Properties"][prop], refs)
        refs[logical_id] = name
        refs[f"{logical_id}.Arn"] = ARN_FORMATS[res["Type"]].format(
            region=region, account=ACCOUNT_ID, name=name
        )
        refs[f"{logical_id}.QueueName"] = name
    for logical_id in template.resources:  # layers, functions, ...: nothing local stands for them
        refs.setdefault(logical_id, logical_id)
    refs[CONDITIONS_KEY] = evaluate_conditions(template, refs)
    return refs


def exists(resource: dict[str, Any], refs: dict[str, Any]) -> bool:
    """Whether CloudFormation would create ``resource``: no ``Condition``, or a true one."""
    condition = resource.get("Condition")
    return condition is None or bool(refs[CONDITIONS_KEY][condition])


def create_tables(template: Template, dynamodb: Any, refs: dict[str, Any]) -> dict[str, str]:
    """Create every table of the template (whose Condition holds); returns logical id -> table name."""
    made = {}
    for logical_id, res in template.of_type("AWS::DynamoDB::Table").items():
        if not exists(res, refs):
            continue
        props = resolve(res["Properties"], refs)
        dynamodb.create_table(
            TableName=props["TableName"],
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )
        if "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(
                TableName=props["TableName"], TimeToLiveSpecification=props["TimeToLiveSpecification"]
            )
        made[logical_id] = props["TableName"]
    return made


@dataclass
class Routes:
    """Where the bus delivers locally: one queue per function, one for unhandled event types."""

    bus_name: str
    function_queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    catch_all_queues: dict[str, str] = field(default_factory=dict)  # rule logical id -> queue URL


def create_bus_and_routes(
    template: Template, events: Any, sqs: Any, refs: dict[str, Any], *, queue_prefix: str = "route-"
) -> Routes:
    """The template's bus, and each of its rules with an SQS queue target."""
    (bus_id,) = template.of_type("AWS::Events::EventBus")
    bus_name = refs[bus_id]
    events.create_event_bus(Name=bus_name)
    routes = Routes(bus_name=bus_name)

    def route(rule_name: str, pattern: dict[str, Any]) -> str:
        url = sqs.create_queue(QueueName=f"{queue_prefix}{rule_name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=rule_name, EventBusName=bus_name, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule_name, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": arn}])
        return str(url)

    for fn in template.event_functions():
        assert fn.pattern is not None
        routes.function_queues[fn.logical_id] = route(fn.logical_id, resolve(fn.pattern, refs))
    for logical_id, rule in template.bus_rules().items():
        routes.catch_all_queues[logical_id] = route(
            logical_id, resolve(rule["Properties"]["EventPattern"], refs)
        )
    return routes


def create_queues(template: Template, sqs: Any, refs: dict[str, Any]) -> dict[str, str]:
    """Create every ``AWS::SQS::Queue`` of the template whose Condition holds (QqRelayActionQueue
    only with ``QqEgress=relay``); returns logical id -> queue URL."""
    return {
        logical_id: sqs.create_queue(QueueName=refs[logical_id])["QueueUrl"]
        for logical_id, res in template.of_type("AWS::SQS::Queue").items()
        if exists(res, refs)
    }
