"""``qqbus invoke``: run one handler in-process on an embedded moto, as ``make invoke`` does.

No Docker and no AWS account: the template's tables are created on moto, the function's
Environment comes from template.yaml, and the handler gets a Lambda context.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

from qqbus.local.template import REPO_ROOT, FunctionSpec, Template, resolve

LOCAL_REGION = "us-east-1"


def fake_credentials() -> None:
    """Credentials and a region for moto, unless the caller set their own."""
    os.environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")


def find_function(template: Template, folder: str) -> FunctionSpec:
    for fn in template.functions():
        if fn.folder == folder or fn.logical_id == folder:
            return fn
    known = ", ".join(sorted(f.folder for f in template.functions()))
    raise SystemExit(f"no function for {folder!r} in template.yaml (known: {known})")


def load_app(fn: FunctionSpec, root: Path = REPO_ROOT) -> ModuleType:
    """Import the function's handler module from its CodeUri, under a unique name."""
    module_name, _, _ = fn.handler.rpartition(".")
    path = root / fn.code_uri / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"qqbus_fn_{fn.logical_id}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def handler_of(fn: FunctionSpec, module: ModuleType) -> Any:
    return getattr(module, fn.handler.rpartition(".")[2])


def run(folder: str, event_path: str, template_path: Path | None = None) -> int:
    """Invoke handler ``folder`` with the event at ``event_path``; print the result and the table."""
    fake_credentials()
    import boto3
    from moto import mock_aws

    from qqbus import aws
    from qqbus.lambda_context import LocalContext
    from qqbus.local.provision import create_tables, local_refs
    from qqbus.state import DynamoGroupStore

    template = Template.read(template_path) if template_path else Template.read()
    fn = find_function(template, folder)
    event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    with mock_aws():
        aws.reset()
        refs = local_refs(template, region=os.environ["AWS_DEFAULT_REGION"])
        create_tables(template, boto3.client("dynamodb"), refs)
        env = {k: str(v) for k, v in resolve(fn.environment, refs).items()}
        os.environ.update(env | {"AWS_LAMBDA_FUNCTION_NAME": fn.logical_id})
        handler = handler_of(fn, load_app(fn))
        result = handler(event, LocalContext(function_name=fn.logical_id))
        print(json.dumps({"function": fn.logical_id, "result": result}, ensure_ascii=False, default=str))
        if "GROUPS_TABLE_NAME" in env:
            for state in DynamoGroupStore(env["GROUPS_TABLE_NAME"]).scan():
                row = {k: v for k, v in asdict(state).items() if v is not None}
                print(json.dumps({"groups_row": row}, ensure_ascii=False))
    return 0
