"""``qqbus new handler <type>``: a new event handler, wired everywhere it must be, in one command.

For ``request.friend``, ``notice.notify.poke`` (a OneBot sub_type) or ``FRIEND_ADD`` (a QQ ``t``)
it writes ``handlers/<name>/app.py`` (typed with the event's model, or the nearest base model),
``events/<name>.json`` (from a real sample in shared/samples when one has that type, with the
event id the ingress would give it), the function's block in template.yaml (its rule; the
idempotency table; the groups table with ``--writes-groups``; the bus with ``--replies``), the
catch-all's exclusion, and ``tests/handlers/test_<name>.py``. The result passes ``make test``
and ``make lint`` as it is. A type that already has a handler is refused.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from qqbus.detail import onebot_event_id

from qqbus_dev.template import REPO_ROOT, Template, parse

QQ_SOURCE, ONEBOT_SOURCE = "qq.official", "onebot.v11"
#: Where a generated function block goes: before the senders' section (else before Outputs).
_ANCHORS = ("  # ---------------------------------------------------------------- senders", "Outputs:")
_SAMPLE_BOT = {QQ_SOURCE: "102000001", ONEBOT_SOURCE: "123456789"}
IDEMPOTENCY_ACTIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
#: The modules that name every model of a protocol; the models live in their submodules (qq_*).
_EVENT_FACADES = ("qqbus.events.qq", "qqbus.events.onebot")


class ScaffoldError(ValueError):
    """The handler cannot be made as asked (the message says why and what to do)."""


@dataclass
class Plan:
    """What ``qqbus new handler`` will write, decided before anything is written."""

    source: str
    detail_type: str  # the bus detail-type: QQ ``t``, or OneBot ``<post_type>.<type>``
    sub_type: str | None  # OneBot only: the rule also matches ``detail.payload.sub_type``
    folder: str
    model: type[BaseModel]
    writes_groups: bool = False
    replies: bool = False
    writes_users: bool = False

    @property
    def spec(self) -> str:
        return f"{self.detail_type}.{self.sub_type}" if self.sub_type else self.detail_type

    @property
    def logical_id(self) -> str:
        return "".join(part.capitalize() for part in self.folder.split("_")) + "Function"

    @property
    def model_module(self) -> str:
        """Where a handler imports the model from: ``qqbus.events.qq`` (or ``.onebot``), which
        names every model of its protocol and imports the module of its kind on first use."""
        module = self.model.__module__
        facade = next((f for f in _EVENT_FACADES if module.startswith(f + "_")), None)
        return facade or module

    @property
    def pattern(self) -> dict[str, Any]:
        pattern: dict[str, Any] = {"source": [self.source], "detail-type": [self.detail_type]}
        if self.sub_type:
            pattern["detail"] = {"payload": {"sub_type": [self.sub_type]}}
        return pattern


def plan(
    spec: str,
    *,
    name: str | None = None,
    writes_groups: bool = False,
    replies: bool = False,
    writes_users: bool = False,
    root: Path = REPO_ROOT,
) -> Plan:
    """Decide source, detail-type, folder and model for ``spec``; refuse what cannot be made.

    Raises
    ------
    ScaffoldError
        For a malformed type, a folder that exists, or a type that already has a handler.
    """
    spec = spec.strip()
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", spec):
        source, detail_type, sub_type = QQ_SOURCE, spec, None
        from qqbus.events import qq

        model: type[BaseModel] = next(iter(qq.qq_models.candidates((spec,))))
        default_name = "qq_" + spec.lower()
    elif re.fullmatch(r"[a-z_]+\.[a-z_]+(\.[a-z_]+)?", spec):
        parts = spec.split(".")
        source, detail_type, sub_type = (
            ONEBOT_SOURCE,
            ".".join(parts[:2]),
            (parts[2] if len(parts) == 3 else None),
        )
        from qqbus.events import onebot

        model = next(iter(onebot.onebot_models.candidates(tuple(parts))))
        # as the contract names them: onebot_group_upload, onebot_group_message, onebot_friend_request
        suffix = {"message": "_message", "request": "_request"}.get(parts[0], "")
        default_name = "onebot_" + parts[1] + suffix + "".join("_" + p for p in parts[2:])
    else:
        raise ScaffoldError(
            f"{spec!r} is not an event type: a QQ type such as FRIEND_ADD, or a OneBot "
            "<post_type>.<type>[.<sub_type>] such as request.friend or notice.notify.poke"
        )
    folder = name or default_name
    if not re.fullmatch(r"[a-z][a-z0-9_]*", folder):
        raise ScaffoldError(f"{folder!r} is not a handler folder name (lowercase letters, digits, _)")
    new = Plan(source, detail_type, sub_type, folder, model, writes_groups, replies, writes_users)
    template = Template.read(root / "template.yaml")
    for fn in template.event_functions():
        if fn.pattern == new.pattern or (not sub_type and _covers(fn.pattern, source, detail_type)):
            raise ScaffoldError(f"{spec} already has a handler: handlers/{fn.folder} ({fn.logical_id})")
    if (root / "handlers" / folder).exists():
        raise ScaffoldError(f"handlers/{folder} exists already; choose another --name")
    if new.logical_id in template.resources:
        raise ScaffoldError(f"template.yaml already has a resource {new.logical_id}; choose another --name")
    return new


def _covers(pattern: dict[str, Any] | None, source: str, detail_type: str) -> bool:
    """A rule without a sub_type condition that takes every event of this type."""
    return bool(
        pattern
        and pattern.get("source") == [source]
        and pattern.get("detail-type") == [detail_type]
        and "detail" not in pattern
    )


# --- the files ------------------------------------------------------------------------------


def handler_code(p: Plan) -> str:
    doc = (p.model.__doc__ or "").strip().splitlines()[0] if p.model.__doc__ else p.model.__name__
    imports = [f"from {p.model_module} import {p.model.__name__}", "from qqbus.observability import note"]
    imports.append("from qqbus.handler import Delivered, handler")
    # The invocation's one INFO line says it, with the bot and the event id (qqbus.observability).
    body = [f'    note("{p.spec}")']
    if p.replies:
        body.append('    ev.reply("got it")  # an action on the bus; the sender gates and sends it')
    return "\n".join(
        [
            f'"""{p.spec}: {doc.rstrip(".")}.',
            "",
            "Written by `qqbus new handler`; make it yours (see README, 'Add a handler').",
            '"""',
            "",
            *sorted(imports),
            "",
            "",
            f"@handler({p.model.__name__})",
            f"def lambda_handler(ev: Delivered[{p.model.__name__}], context: object) -> None:",
            *body,
            "",
        ]
    )


def test_code(p: Plan) -> str:
    """The handler's test, on the test kit (``qqbus_dev.testing``: the ``bot`` fixture)."""
    if p.replies:
        asks = '    result.should_reply("got it")  # what app.py answers: change both together'
        again = """

def test_a_repeated_delivery_asks_for_the_same_reply(bot: Bot) -> None:
    first, again = bot.receive(bot.project / EVENT), bot.receive(bot.project / EVENT)
    # the same action id: the sender sends it once (or, with @handler(once=True), nothing new)
    assert [a.action_id for a in again.actions] in ([], [a.action_id for a in first.actions])
"""
    else:
        asks, again = "    result.should_not_call()", ""
    return f'''"""{p.spec}: handlers/{p.folder} (written by `qqbus new handler`).

The ``bot`` fixture (qqbus_dev.testing, README "Test your bot") puts its events/ file on the
template's bus and runs the function the rule picks, with its template Environment, on moto.
"""

from __future__ import annotations

import json

from qqbus_dev.testing import Bot

EVENT = "events/{p.folder}.json"


def test_it_handles_its_event(bot: Bot) -> None:
    result = bot.receive(bot.project / EVENT)
    assert result.functions == ["{p.logical_id}"] and result.status == "handled"
    logged = [line for line in result.logs if line.get("message") == "{p.spec}"]
    assert logged and logged[0]["correlation_id"] == result.event.event_id
{asks}
{again}

def test_a_payload_that_does_not_fit_is_reported_not_retried(bot: Bot) -> None:
    event = json.loads((bot.project / EVENT).read_text(encoding="utf-8"))
    event["detail"]["payload"] = {{"not": "this event"}}
    result = bot.receive(event, handler="{p.folder}")
    result.should_be_invalid()
    result.should_not_call()
'''


def _placeholder(annotation: Any, examples: list[Any] | None = None) -> Any:
    """A value for a required field: the model's first example, else one of the field's type."""
    if examples:
        return examples[0]
    text = str(annotation)
    if "int" in text.lower() and "str" not in text.lower():
        return 10001
    if "dict" in text:
        return {}
    if "list" in text:
        return []
    return "example"


def sample_payload(p: Plan, samples: Path) -> dict[str, Any]:
    """A real payload of this type from ``samples`` when one exists, else a minimal one."""
    from qqbus.events.parse import UnknownPayload, parse_event

    for path in sorted(samples.glob("*/*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            parsed = parse_event(payload)
        except (ValueError, UnknownPayload):
            continue
        if parsed.detail_type == p.detail_type and (
            p.sub_type is None or payload.get("sub_type") == p.sub_type
        ):
            return dict(payload)
    if p.source == QQ_SOURCE:
        qq_payload: dict[str, Any] = {"op": 0, "t": p.detail_type, "id": f"{p.detail_type}:{uuid.uuid4()}"}
        d_model = p.model.model_fields.get("d")
        data: dict[str, Any] = {"timestamp": 1718000000}
        inner = getattr(d_model, "annotation", None)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            for field_name, info in inner.model_fields.items():
                if info.is_required() and field_name not in data:
                    data[field_name] = _placeholder(info.annotation, info.examples)
        qq_payload["d"] = data
        return qq_payload
    post_type, type_name = p.detail_type.split(".")
    type_field = {"message": "message_type", "notice": "notice_type", "request": "request_type"}.get(
        post_type, "meta_event_type"
    )
    payload = {"time": 1718000000, "self_id": 123456789, "post_type": post_type, type_field: type_name}
    if post_type != "meta_event":  # who it is about: every message, notice and request names a user
        payload["user_id"] = 345678901
    if p.sub_type:
        payload["sub_type"] = p.sub_type
    if "target_id" in p.model.model_fields:  # a poke (lucky king, ...) of the bot itself
        payload["target_id"] = payload["self_id"]
    for field_name, info in p.model.model_fields.items():
        if info.is_required() and field_name not in payload:
            payload[field_name] = _placeholder(info.annotation, info.examples)
    return payload


def events_file(p: Plan, samples: Path) -> dict[str, Any]:
    """The EventBridge event a rule hands the function (what ``sam local invoke`` sends)."""
    payload = sample_payload(p, samples)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    if p.source == QQ_SOURCE:
        event_id, bot_id, transport = str(payload.get("id")), _SAMPLE_BOT[QQ_SOURCE], "webhook"
    else:
        event_id, bot_id, transport = onebot_event_id(body), str(payload["self_id"]), "http_post"
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"qqbus:{p.spec}")),
        "detail-type": p.detail_type,
        "source": p.source,
        "account": "123456789012",
        "time": "2024-06-10T06:13:30Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "bot_id": bot_id,
            "event_id": event_id,
            "transport": transport,
            "received_at": 1718000010123,
            "payload": payload,
        },
    }


def function_block(p: Plan) -> str:
    env = []
    if p.writes_groups:
        env.append("          GROUPS_TABLE_NAME: !Ref GroupsTable")
    if p.writes_users:
        env.append("          USERS_TABLE_NAME: !Ref UsersTable")
    if p.replies:
        env.append("          EVENT_BUS_NAME: !Ref EventBus")
    statements = []
    if p.replies:
        statements += [
            "            - Sid: AskForActions",
            "              Effect: Allow",
            "              Action: [events:PutEvents]",
            "              Resource: !GetAtt EventBus.Arn",
        ]
    if p.writes_groups:
        statements += [
            "            - Sid: GroupsState",
            "              Effect: Allow",
            "              Action: [dynamodb:GetItem, dynamodb:UpdateItem]",
            "              Resource: !GetAtt GroupsTable.Arn",
        ]
    if p.writes_users:
        statements += [
            "            - Sid: UsersState",
            "              Effect: Allow",
            "              Action: [dynamodb:GetItem, dynamodb:UpdateItem]",
            "              Resource: !GetAtt UsersTable.Arn",
        ]
    statements += [
        "            - Sid: Idempotency",
        "              Effect: Allow",
        "              Action: [" + ", ".join(f"dynamodb:{a}" for a in IDEMPOTENCY_ACTIONS) + "]",
        "              Resource: !GetAtt IdempotencyTable.Arn",
    ]
    pattern = [f"              source: [{p.source}]", f'              detail-type: ["{p.detail_type}"]']
    if p.sub_type:
        pattern += [
            "              detail:",
            "                payload:",
            f'                  sub_type: ["{p.sub_type}"]',
        ]
    lines = [
        f"  {p.logical_id}:",
        "    Type: AWS::Serverless::Function",
        "    Properties:",
        f'      Description: "{p.spec}: written by qqbus new handler"',
        f"      CodeUri: handlers/{p.folder}/",
        *(["      Environment:", "        Variables:", *env] if env else []),
        "      Policies:",
        "        - Statement:",
        *statements,
        "      Events:",
        "        Bus:",
        "          Type: EventBridgeRule",
        "          Properties:",
        "            EventBusName: !Ref EventBus",
        "            Pattern:",
        *pattern,
        "            RetryPolicy:",
        "              MaximumRetryAttempts: 10",
        "              MaximumEventAgeInSeconds: 3600",
        "            DeadLetterConfig:",
        "              Arn: !GetAtt DeliveryDeadLetterQueue.Arn",
        "",
        "",
    ]
    return "\n".join(lines)


def _catch_all_branch(lines: list[str], source: str) -> tuple[int, int]:
    """The line range of the catch-all's ``anything-but`` list for ``source`` (items only)."""
    start = next(i for i, line in enumerate(lines) if line.startswith("  UnhandledEventsRule:"))
    branch = next(i for i in range(start, len(lines)) if lines[i].strip() == f"- source: [{source}]")
    first = next(i for i in range(branch, len(lines)) if lines[i].strip() == "- anything-but:") + 1
    last = first
    while last < len(lines) and lines[last].startswith(" " * 18 + "- "):
        last += 1
    return first, last


def exclude_from_catch_all(text: str, p: Plan) -> str:
    """template.yaml text with ``p``'s type taken out of the catch-all.

    A sub_type handler takes its whole type out of the main branch, and a branch of its own puts
    back every event of that type whose ``sub_type`` is missing or not handled.
    """
    lines = text.split("\n")
    first, last = _catch_all_branch(lines, p.source)
    listed = {line.strip()[2:] for line in lines[first:last]}
    if p.detail_type not in listed:
        lines.insert(last, " " * 18 + f"- {p.detail_type}")
        last += 1
    if p.sub_type:
        marker = f"# sub_types of {p.detail_type} no function handles"
        at = next((i for i, line in enumerate(lines) if line.strip() == marker), None)
        if at is None:
            lines[last:last] = [
                f"          {marker}",
                f"          - source: [{p.source}]",
                f"            detail-type: [{p.detail_type}]",
                "            detail:",
                "              payload:",
                "                sub_type:",
                "                  - exists: false",
                "                  - anything-but:",
                f"                      - {p.sub_type}",
            ]
        else:
            end = at + 8
            while end + 1 < len(lines) and lines[end + 1].startswith(" " * 22 + "- "):
                end += 1
            lines.insert(end + 1, " " * 22 + f"- {p.sub_type}")
    return "\n".join(lines)


def add_function(text: str, p: Plan) -> str:
    for anchor in _ANCHORS:
        at = text.find("\n" + anchor)
        if at >= 0:
            return text[: at + 1] + function_block(p) + text[at + 1 :]
    raise ScaffoldError("template.yaml has no Outputs section to put the function before")


def write(p: Plan, root: Path = REPO_ROOT, samples: Path | None = None) -> list[Path]:
    """Write every file of the plan; the paths written or changed."""
    samples = samples or root.parent / "shared" / "samples"
    template_path = root / "template.yaml"
    text = template_path.read_text(encoding="utf-8")
    new_text = exclude_from_catch_all(add_function(text, p), p)
    parse(new_text)  # still a template, or fail before anything is written
    handler = root / "handlers" / p.folder / "app.py"
    events = root / "events" / f"{p.folder}.json"
    test = root / "tests" / "handlers" / f"test_{p.folder}.py"
    handler.parent.mkdir(parents=True)
    handler.write_text(handler_code(p), encoding="utf-8")
    events.write_text(
        json.dumps(events_file(p, samples), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    test.write_text(test_code(p), encoding="utf-8")
    template_path.write_text(new_text, encoding="utf-8")
    return [handler, events, test, template_path]


def run(
    spec: str,
    *,
    name: str | None,
    writes_groups: bool,
    replies: bool,
    writes_users: bool = False,
    root: Path = REPO_ROOT,
) -> int:
    try:
        p = plan(
            spec,
            name=name,
            writes_groups=writes_groups,
            replies=replies,
            writes_users=writes_users,
            root=root,
        )
        written = write(p, root)
    except ScaffoldError as exc:
        print(f"qqbus new handler: {exc}")
        return 2
    print(f"{p.spec} ({p.source}) -> handlers/{p.folder}, model {p.model_module}.{p.model.__name__}")
    for path in written:
        print(f"  wrote {path.relative_to(root)}")
    print("Next: edit the handler, then `make test`; restart `make dev` to route the new type.")
    return 0
