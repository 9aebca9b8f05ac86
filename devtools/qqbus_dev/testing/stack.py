"""The template's AWS on moto for tests: made once, emptied between tests.

``KitStack`` opens moto's ``mock_aws`` for a test and makes sure the template's tables, queues,
bus and rules (``qqbus_dev.provision``, as ``make dev`` and ``qqbus invoke`` make them) are there
and empty. They are made once and kept while the tests that use them follow one another; a test
that opens its own ``mock_aws`` in between resets moto, and the next kit test finds the resources
gone and makes them again. Resource names carry the stage ``kit``, so they never meet a test's own
tables. Nothing here reaches AWS: moto answers every call, with its own fake credentials.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from qqbus_dev.provision import Routes, create_bus_and_routes, create_queues, create_tables, local_refs
from qqbus_dev.template import Template, resolve

__all__ = ["KitStack"]

REGION = "us-east-1"
STAGE = "kit"
QUEUE_PREFIX = "kit-route-"
TAP_QUEUE = "kit-route-tap"
#: Tables that are plumbing, not state a handler writes: the once-only records and the senders' ledger.
PLUMBING_TABLES = frozenset({"IdempotencyTable", "ActionsTable"})
_MISSING = object()
#: The stack whose resources moto holds now (stacks of two projects share the names).
_holder: dict[str, KitStack] = {}


def plain(value: Any) -> Any:
    """A DynamoDB attribute value (``{"S": ...}``) as plain Python: numbers as int where whole."""
    from boto3.dynamodb.types import TypeDeserializer

    def unwrap(v: Any) -> Any:
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, dict):
            return {k: unwrap(x) for k, x in v.items()}
        if isinstance(v, list | set):
            return [unwrap(x) for x in v]
        return v

    return unwrap(TypeDeserializer().deserialize(value))


@dataclass
class KitStack:
    """The AWS of one project's ``template.yaml``, on moto, for the tests of a session."""

    project: Path
    parameters: dict[str, str] = field(default_factory=dict)
    region: str = REGION
    stage: str = STAGE

    def __post_init__(self) -> None:
        self.project = Path(self.project).resolve()
        self.template = Template.read(self.project / "template.yaml")
        self.template.check_parameters(self.parameters)  # what CloudFormation would refuse
        self.refs = local_refs(
            self.template, region=self.region, stage=self.stage, parameters=self.parameters
        )
        self.tables: dict[str, str] = {}  # logical id -> name
        self.keys: dict[str, list[str]] = {}  # logical id -> key attribute names
        self.queues: dict[str, str] = {}  # logical id -> URL (the template's own queues)
        self.routes: Routes | None = None
        self.tap = ""  # URL of the queue every function's rule delivers to
        self._mock: Any = None
        self._clients: dict[str, Any] = {}
        self._paths: list[tuple[str, ...]] | None = None
        #: route_key -> the functions (logical ids) the bus sent such an event to.
        self.route_cache: dict[str, list[str]] = {}
        self._outermost = False

    # --- the moto session of one test -------------------------------------------------------

    def open(self) -> None:
        """Start moto for a test: the resources are made if missing, emptied if present."""
        from moto import mock_aws

        if self._mock is not None:
            raise RuntimeError("the kit's AWS is open already (one bot per test)")
        os.environ.setdefault("AWS_DEFAULT_REGION", self.region)
        self._mock = mock_aws()
        from moto.core.models import MockAWS

        self._outermost = MockAWS._nested_count == 0
        self._mock.start(reset=False)
        try:
            if self._present():
                self.empty()
            else:
                if self._outermost:
                    self._mock.reset()
                self._provision()
        except BaseException:
            self.routes = None
            self.close(keep=False)
            raise

    def close(self, *, keep: bool) -> None:
        """End the test's moto; ``keep`` leaves the resources for the next test."""
        if self._mock is None:
            return
        mock, self._mock = self._mock, None
        mock.stop(remove_data=not keep)
        if not keep:
            self.routes = None

    @property
    def is_open(self) -> bool:
        return self._mock is not None

    # --- clients ---------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client, made once (moto answers it whenever a test has the stack open)."""
        made = self._clients.get(service)
        if made is None:
            import boto3

            made = self._clients[service] = boto3.client(service, region_name=self.region)  # type: ignore[call-overload]
        return made

    def _present(self) -> bool:
        if self.routes is None or _holder.get("stack") is not self:
            return False
        names = set(self.client("dynamodb").list_tables().get("TableNames", []))
        if not set(self.tables.values()) <= names:
            return False
        urls = set(self.client("sqs").list_queues(QueueNamePrefix=QUEUE_PREFIX).get("QueueUrls", []))
        return self.tap in urls

    def _provision(self) -> None:
        dynamodb, sqs = self.client("dynamodb"), self.client("sqs")
        self.tables = create_tables(self.template, dynamodb, self.refs)
        self.keys = {
            logical_id: [
                k["AttributeName"] for k in dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]
            ]
            for logical_id, name in self.tables.items()
        }
        self.refs = local_refs(
            self.template, region=self.region, stage=self.stage, parameters=self.parameters
        )
        self.queues = create_queues(self.template, sqs, self.refs)
        self.refs.update(self.queues)  # a queue's Ref is its URL
        events = self.client("events")
        self.routes = routes = create_bus_and_routes(
            self.template, events, sqs, self.refs, queue_prefix=QUEUE_PREFIX
        )
        # One queue for every function's rule instead of a queue each: the rule's target says
        # which function the event reached (an InputTransformer), so a test reads one queue.
        self.tap = sqs.create_queue(QueueName=TAP_QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.tap, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for logical_id in routes.function_queues:
            template = '{"function": ' + json.dumps(logical_id) + ', "event": <aws.events.event.json>}'
            events.put_targets(
                Rule=logical_id,
                EventBusName=routes.bus_name,
                Targets=[
                    {
                        "Id": "queue",
                        "Arn": arn,
                        "InputTransformer": {"InputPathsMap": {"id": "$.id"}, "InputTemplate": template},
                    }
                ],
            )
        _holder["stack"] = self

    def empty(self) -> None:
        """Delete every item of every table and every message of every queue."""
        dynamodb, sqs = self.client("dynamodb"), self.client("sqs")
        for logical_id, name in self.tables.items():
            keys = self.keys[logical_id]
            items = dynamodb.scan(
                TableName=name,
                ProjectionExpression=", ".join(f"#k{i}" for i in range(len(keys))),
                ExpressionAttributeNames={f"#k{i}": k for i, k in enumerate(keys)},
            )["Items"]
            for item in items:
                dynamodb.delete_item(TableName=name, Key=item)
        for url in self.all_queue_urls():  # PurgeQueue may be refused within 60 s of the last
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )

    def all_queue_urls(self) -> list[str]:
        """The queues that take messages: the tap, the catch-all's and the template's own."""
        assert self.routes is not None
        return [self.tap, *self.routes.catch_all_queues.values(), *self.queues.values()]

    # --- reading what a test left -----------------------------------------------------------

    def items(self, logical_id: str) -> list[dict[str, Any]]:
        """Every item of a table (by logical id), as plain Python."""
        name = self.tables[logical_id]
        dynamodb = self.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": name}
        while True:
            page = dynamodb.scan(**kwargs)
            items += [{k: plain(v) for k, v in item.items()} for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def state(self, tables: list[str] | None = None) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
        """The items by key of ``tables`` (default: every table), the plumbing tables left out."""
        return {
            logical_id: {
                tuple(item.get(k) for k in self.keys[logical_id]): item for item in self.items(logical_id)
            }
            for logical_id in (self.tables if tables is None else tables)
            if logical_id not in PLUMBING_TABLES
        }

    # --- routing ---------------------------------------------------------------------------

    def route_key(self, source: str, detail_type: str, detail: dict[str, Any]) -> str:
        """What decides where an event goes: the values (or absence) of every field that some rule
        pattern of the template looks at. Two events with the same key match the same rules."""
        event = {"source": source, "detail-type": detail_type, "detail": detail}
        values = []
        for path in self._pattern_paths():
            here: Any = event
            for step in path:
                here = here.get(step, _MISSING) if isinstance(here, dict) else _MISSING
            values.append(None if here is _MISSING else ["value", here])
        return json.dumps(values, sort_keys=True, default=str)

    def _pattern_paths(self) -> list[tuple[str, ...]]:
        if self._paths is None:
            paths: set[tuple[str, ...]] = set()

            def walk(pattern: Any, prefix: tuple[str, ...]) -> None:
                if not isinstance(pattern, dict):
                    return
                for key, value in pattern.items():
                    if key == "$or":
                        for branch in value:
                            walk(branch, prefix)
                    elif isinstance(value, dict):
                        walk(value, (*prefix, key))
                    else:
                        paths.add((*prefix, key))

            for fn in self.template.event_functions():
                walk(resolve(fn.pattern, self.refs), ())  # a !Ref in a pattern is its value
            self._paths = sorted(paths)
        return self._paths
