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

from qqbus_dev.template import TEMPLATE_PATH, Template

LOCAL_REGION = "us-east-1"


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def as_invocation_event(data: Any, raw: bytes, *, ingress: bool) -> dict[str, Any]:
    """What Lambda would pass for ``data``: an events/ file as it is; a raw platform payload
    wrapped as the ingress would (a signed Function URL event for ``ingress``, else the bus event).

    Raises
    ------
    ValueError
        When ``data`` is neither an event nor a QQ / OneBot payload.
    """
    from qqbus.detail import build_detail, onebot_event_id
    from qqbus.events.parse import UnknownPayload, parse_event
    from qqbus.ingress.function_url import function_url_event

    from qqbus_dev.functions import DEV_QQ_APPID
    from qqbus_dev.send import prepare

    if not isinstance(data, dict):
        raise ValueError("not an event: a JSON object is needed")
    if "requestContext" in data or ("detail-type" in data and "detail" in data):
        return data  # already what Lambda passes
    if ingress:
        prepared = prepare(raw)
        return function_url_event(prepared.body, prepared.headers, path=prepared.path)
    try:
        parsed = parse_event(data)
    except UnknownPayload as exc:
        raise ValueError(f"not an event: {exc}") from None
    is_qq = parsed.source == "qq.official"
    detail = build_detail(
        bot_id=DEV_QQ_APPID if is_qq else str(data.get("self_id")),
        event_id=str(data.get("id")) if is_qq and data.get("id") else onebot_event_id(raw),
        transport="webhook" if is_qq else "http_post",
        payload=data,
    )
    return {
        "version": "0",
        "id": "local",
        "detail-type": parsed.detail_type,
        "source": parsed.source,
        "account": "123456789012",
        "time": "",
        "region": LOCAL_REGION,
        "resources": [],
        "detail": detail,
    }


def run(
    folder: str,
    event_path: str,
    template_path: Path = TEMPLATE_PATH,
    *,
    parameters: dict[str, str] | None = None,
) -> int:
    """Invoke function ``folder`` (or logical id) with the event at ``event_path``; ``parameters``
    override the template's defaults (``--parameter-overrides``, checked by the caller)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws
    from qqbus import aws
    from qqbus.state import DynamoGroupStore

    from qqbus_dev.functions import load_functions
    from qqbus_dev.provision import create_bus_and_routes, create_queues, create_tables, local_refs

    template = Template.read(template_path)
    try:
        raw = Path(event_path).read_bytes()
        data = json.loads(raw)
    except OSError as exc:
        raise SystemExit(f"qqbus invoke: cannot read {event_path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SystemExit(f"qqbus invoke: {event_path} is not JSON: {exc}") from None
    with mock_aws():
        aws.reset()
        refs = local_refs(template, region=os.environ["AWS_DEFAULT_REGION"], parameters=parameters)
        sqs = boto3.client("sqs")
        tables = create_tables(template, boto3.client("dynamodb"), refs)
        refs.update(create_queues(template, sqs, refs))
        routes = create_bus_and_routes(template, boto3.client("events"), sqs, refs)
        functions = load_functions(template, refs, template_path.resolve().parent)
        matches = [f for f in functions.values() if folder in (f.spec.folder, f.name)]
        if not matches:
            known = ", ".join(sorted(f.spec.folder for f in functions.values()))
            raise SystemExit(f"no function {folder!r} in {template_path} (known: {known})")
        fn = matches[0]
        try:
            event = as_invocation_event(data, raw, ingress=fn.spec.pattern is None)
        except ValueError as exc:
            raise SystemExit(f"qqbus invoke: {event_path}: {exc}") from None
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
