"""template.yaml as data: the one source of the tables, rules and functions the local stack runs.

``load()`` reads the SAM template (CloudFormation short tags such as ``!Ref`` become their long
forms); ``Template`` answers what the local stack and the tests need from it, and ``resolve``
substitutes ``Ref``/``GetAtt``/``Sub`` with the local names of the resources.
``find_project()`` is the project a command acts on (the nearest ``template.yaml`` upward), and
``parameter_overrides()`` reads ``sam deploy --parameter-overrides`` values.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: The checkout these dev tools are installed from (this file is devtools/qqbus_dev/template.py).
#: The CLI acts on ``find_project()`` instead: a shared venv serves several clones.
REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
TEMPLATE_NAME = "template.yaml"


class ProjectNotFound(LookupError):
    """No ``template.yaml`` in the directory given, or in any directory above it."""


def find_project(start: Path | str | None = None) -> Path:
    """The project a command acts on: the nearest directory at or above ``start`` (default: the
    current directory) holding a ``template.yaml``.

    Raises
    ------
    ProjectNotFound
        When there is none up to the file system's root.
    """
    here = Path.cwd() if start is None else Path(start)
    here = here.resolve()
    for folder in (here, *here.parents):
        if (folder / TEMPLATE_NAME).is_file():
            return folder
    raise ProjectNotFound(
        f"no {TEMPLATE_NAME} in {here} or above it: run this inside a qqbus project, or pass --project DIR"
    )


class ParameterError(ValueError):
    """A ``--parameter-overrides`` value that is malformed or that the template does not accept."""


_PAIR = re.compile(r"ParameterKey=([^,=]*),ParameterValue=(.*)", re.DOTALL)
_KEY = re.compile(r"[A-Za-z0-9]+")


def parameter_overrides(values: Iterable[str]) -> dict[str, str]:
    """``Key=Value`` pairs in ``sam deploy --parameter-overrides`` syntax, by key.

    Each value holds one or more pairs separated by spaces, each ``Key=Value`` or
    ``ParameterKey=Key,ParameterValue=Value``; quotes and backslashes work as in a shell, so a
    value may hold spaces (``'RequestCommentPattern="let me in"'``). The last value for a key wins.

    Raises
    ------
    ParameterError
        For a piece that is not a pair, or a key that is not a parameter name.
    """
    found: dict[str, str] = {}
    for value in values:
        try:
            pieces = shlex.split(value)
        except ValueError as exc:  # an unclosed quote
            raise ParameterError(f"cannot read {value!r}: {exc}") from None
        for piece in pieces:
            pair = _PAIR.fullmatch(piece)
            key, sep, text = (pair.group(1), "=", pair.group(2)) if pair else piece.partition("=")
            if not sep:
                raise ParameterError(f"{piece!r} is not Key=Value (or ParameterKey=Key,ParameterValue=Value)")
            if not _KEY.fullmatch(key):
                raise ParameterError(f"{key!r} in {piece!r} is not a parameter name")
            found[key] = text
    return found


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short tags (``!Ref X`` -> ``{"Ref": "X"}``)."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _short_tag)


def load(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data."""
    with open(path, encoding="utf-8") as fh:
        return parse(fh.read())


def parse(text: str) -> dict[str, Any]:
    """Template text as plain data (short tags read as their long forms)."""
    try:
        data = yaml.load(text, Loader=_CfnLoader)
    except yaml.YAMLError as exc:
        raise ValueError("not YAML: " + " ".join(str(exc).split())) from None
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError("not a CloudFormation template (no Resources)")
    return data


@dataclass
class FunctionSpec:
    """One ``AWS::Serverless::Function`` and, if it has one, its EventBridge rule."""

    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, Any]
    pattern: dict[str, Any] | None = None
    rule: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        """The handler folder name (``handlers/<folder>/``)."""
        return Path(self.code_uri.rstrip("/")).name


@dataclass
class Template:
    data: dict[str, Any]

    @classmethod
    def read(cls, path: Path | str = TEMPLATE_PATH) -> Template:
        return cls(load(path))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.data["Resources"]

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == type_}

    @property
    def globals_environment(self) -> dict[str, Any]:
        env = self.data.get("Globals", {}).get("Function", {}).get("Environment", {})
        return dict(env.get("Variables", {}))

    def functions(self) -> list[FunctionSpec]:
        specs = []
        default_handler = (
            self.data.get("Globals", {}).get("Function", {}).get("Handler", "app.lambda_handler")
        )
        globals_ = {
            k: v for k, v in self.data.get("Globals", {}).get("Function", {}).items() if k != "Environment"
        }
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            props = merge_globals(globals_, res.get("Properties", {}))
            env = {**self.globals_environment, **props.get("Environment", {}).get("Variables", {})}
            spec = FunctionSpec(
                logical_id=logical_id,
                code_uri=props["CodeUri"],
                handler=props.get("Handler", default_handler),
                environment=env,
                properties=props,
            )
            for event in props.get("Events", {}).values():
                if event.get("Type") == "EventBridgeRule":
                    spec.rule = event["Properties"]
                    spec.pattern = event["Properties"]["Pattern"]
            specs.append(spec)
        return specs

    def event_functions(self) -> list[FunctionSpec]:
        """The functions an EventBridge rule invokes (one per handled event type)."""
        return [f for f in self.functions() if f.pattern is not None]

    def bus_rules(self) -> dict[str, dict[str, Any]]:
        """Plain ``AWS::Events::Rule`` resources (the catch-all), by logical id."""
        return self.of_type("AWS::Events::Rule")

    def parameter_defaults(self) -> dict[str, Any]:
        return {k: v.get("Default") for k, v in self.data.get("Parameters", {}).items()}

    def check_parameters(self, values: dict[str, str]) -> None:
        """Refuse what CloudFormation would refuse: an unknown parameter, or a value outside its
        ``AllowedValues`` / ``AllowedPattern`` / ``MinLength``-``MaxLength`` / ``MinValue``-``MaxValue``,
        or not a number for a ``Number``.

        Raises
        ------
        ParameterError
            Naming the parameter and what it accepts, in one line.
        """
        declared: dict[str, dict[str, Any]] = self.data.get("Parameters", {})
        for key, value in values.items():
            spec = declared.get(key)
            if spec is None:
                known = ", ".join(sorted(declared)) or "none"
                raise ParameterError(f"template.yaml has no parameter {key!r} (it has: {known})")
            problem = _parameter_problem(spec, value)
            if problem:
                raise ParameterError(f"{key}={value!r}: {problem}")


def _parameter_problem(spec: dict[str, Any], value: str) -> str | None:
    """What is wrong with ``value`` for the parameter declared as ``spec``, or None."""
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        return "not one of its AllowedValues: " + ", ".join(str(v) for v in allowed)
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(str(pattern), value):
        return f"does not match its AllowedPattern {pattern}"
    if spec.get("Type", "String") != "Number":
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            return f"shorter than its MinLength {spec['MinLength']}"
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            return f"longer than its MaxLength {spec['MaxLength']}"
        return None
    try:
        number = float(value)
    except ValueError:
        return "not a number (the parameter is a Number)"
    if "MinValue" in spec and number < float(spec["MinValue"]):
        return f"below its MinValue {spec['MinValue']}"
    if "MaxValue" in spec and number > float(spec["MaxValue"]):
        return f"above its MaxValue {spec['MaxValue']}"
    return None


def merge_globals(globals_: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """A resource's properties with Globals, as SAM merges them: lists are global + local, maps
    are merged key by key (local wins), anything else is the local value."""
    merged = dict(globals_)
    for key, value in local.items():
        base = merged.get(key)
        if isinstance(base, list) and isinstance(value, list):
            merged[key] = base + value
        elif isinstance(base, dict) and isinstance(value, dict):
            merged[key] = merge_globals(base, value)
        else:
            merged[key] = value
    return merged


_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")
#: What ``!Ref AWS::NoValue`` resolves to; ``resolve`` drops it from mappings and lists.
NO_VALUE = object()
CONDITIONS_KEY = "__conditions__"


def resolve(value: Any, refs: dict[str, Any]) -> Any:
    """Substitute intrinsics with ``refs``: ``Ref X`` -> refs[X], ``GetAtt X.Y`` -> refs["X.Y"].

    ``Fn::If`` reads the evaluated conditions in ``refs["__conditions__"]``; ``AWS::NoValue``
    removes the key or item it stands for.
    """
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else refs[arg]
        if key == "Fn::GetAtt":
            return refs[".".join(arg)]
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], refs))
            return _SUB_VAR.sub(lambda m: str({**refs, **extra}[m.group(1)]), text)
        if key == "Fn::If":
            condition, if_true, if_false = arg
            return resolve(if_true if refs[CONDITIONS_KEY][condition] else if_false, refs)
        if key == "Fn::Equals":
            left, right = resolve(arg, refs)
            return left == right
        if key == "Fn::Not":
            return not resolve(arg[0], refs)
        if key == "Fn::And":
            return all(resolve(arg, refs))
        if key == "Fn::Or":
            return any(resolve(arg, refs))
        if key == "Condition":
            return refs[CONDITIONS_KEY][arg]
    if isinstance(value, dict):
        resolved = {k: resolve(v, refs) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
    if isinstance(value, list):
        return [v for v in (resolve(v, refs) for v in value) if v is not NO_VALUE]
    return value


def evaluate_conditions(template: Template, refs: dict[str, Any]) -> dict[str, bool]:
    """The template's Conditions, evaluated in order (a condition may name an earlier one)."""
    conditions: dict[str, bool] = {}
    scope = {**refs, CONDITIONS_KEY: conditions}
    for name, expression in template.data.get("Conditions", {}).items():
        conditions[name] = bool(resolve(expression, scope))
    return conditions
