"""``qqbus invoke``: run one function in-process on an embedded moto, as ``make invoke`` does.

No Docker and no AWS account: the template's tables, queues, bus and rules are created on
moto, the function's Environment comes from template.yaml (dev secrets instead of SSM), and
the handler gets a Lambda context. Afterwards it prints the result, what reached the bus,
and the groups table.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qqbus.local.template import TEMPLATE_PATH, Template

LOCAL_REGION = "us-east-1"


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def run(folder: str, event_path: str, template_path: Path = TEMPLATE_PATH) -> int:
    """Invoke function ``folder`` (or logical id) with the event at ``event_path``."""
    os.environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from qqbus import aws
    from qqbus.local.functions import load_functions
    from qqbus.local.provision import create_bus_and_routes, create_queues, create_tables, local_refs
    from qqbus.state import DynamoGroupStore

    template = Template.read(template_path)
    event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    with mock_aws():
        aws.reset()
        refs = local_refs(template, region=os.environ["AWS_DEFAULT_REGION"])
        sqs = boto3.client("sqs")
        tables = create_tables(template, boto3.client("dynamodb"), refs)
        create_queues(template, sqs, refs)
        routes = create_bus_and_routes(template, boto3.client("events"), sqs, refs)
        functions = load_functions(template, refs, template_path.resolve().parent)
        matches = [f for f in functions.values() if folder in (f.spec.folder, f.name)]
        if not matches:
            known = ", ".join(sorted(f.spec.folder for f in functions.values()))
            raise SystemExit(f"no function {folder!r} in {template_path} (known: {known})")
        fn = matches[0]
        result = fn.invoke(event)
        print(json.dumps({"function": fn.name, "result": result}, ensure_ascii=False, default=str))
        for logical_id, url in {**routes.function_queues, **routes.catch_all_queues}.items():
            for bus_event in _drain(sqs, url):
                print(
                    json.dumps({"on_the_bus": {"rule": logical_id, "event": bus_event}}, ensure_ascii=False)
                )
        for state in DynamoGroupStore(tables["GroupsTable"]).scan():
            row = {k: v for k, v in asdict(state).items() if v is not None}
            print(json.dumps({"groups_row": row}, ensure_ascii=False))
    return 0
