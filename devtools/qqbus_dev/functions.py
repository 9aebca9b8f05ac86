"""The template's functions as local callables: code from CodeUri, Environment from the template.

Several functions share one process here, so each invocation runs under one lock with its own
function's environment in ``os.environ`` (as its Lambda would have it), restored afterwards.
Secrets come from the dev values below instead of SSM. An invocation can keep the log lines it
wrote (``invoke(event, logs=[])``, for the console's trace); the lines at or above the function's
own level still reach the terminal as before.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from qqbus_dev.lambda_context import LocalContext
from qqbus_dev.template import FunctionSpec, Template, resolve

#: The documented dev credentials: events/ payloads for the ingress functions are signed with these.
DEV_QQ_APPID = "102000001"
DEV_QQ_SECRET = "qqbus-dev-secret"
DEV_ONEBOT_SECRET = "qqbus-dev-onebot"

_INVOKE_LOCK = threading.RLock()
#: Log lines kept per invocation, and characters per line.
MAX_LOG_LINES = 100
MAX_LOG_CHARS = 4000


@dataclass
class DevSecrets:
    qq: str = DEV_QQ_SECRET
    qq_appid: str = DEV_QQ_APPID  # the AppID the single QQ secret belongs to (QQ_BOT_APPID)
    onebot: str | None = DEV_ONEBOT_SECRET  # None or "": OneBot requests are not signed


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` updated with ``env`` (a value of None removes the key), then restored."""
    saved = {k: os.environ.get(k) for k in env}
    try:
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class LocalFunction:
    """One function of the template, loaded and callable as Lambda would call it."""

    def __init__(self, spec: FunctionSpec, env: dict[str, Any], root: Path) -> None:
        self.spec = spec
        self.env = env
        self.root = root
        self.timeout_s = float(spec.properties.get("Timeout", 30))
        with environment(env):
            self.module = self._load()
        self.handler = getattr(self.module, spec.handler.rpartition(".")[2])

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def _load(self) -> ModuleType:
        module_name = self.spec.handler.rpartition(".")[0]
        path = self.root / self.spec.code_uri / f"{module_name}.py"
        spec = importlib.util.spec_from_file_location(f"qqbus_fn_{self.spec.logical_id}", path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"no handler module at {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def invoke(self, event: dict[str, Any], *, logs: list[str] | None = None) -> Any:
        """Call the handler; with ``logs``, its log lines (INFO and up) are appended to it."""
        with _INVOKE_LOCK, environment(self.env), captured_logs(logs, self.env.get("POWERTOOLS_LOG_LEVEL")):
            return self.handler(event, LocalContext(function_name=self.name, timeout_s=self.timeout_s))


@contextmanager
def captured_logs(into: list[str] | None, echo_level: str | None) -> Iterator[None]:
    """The Powertools logger's lines (INFO and up) into ``into``; those at ``echo_level`` and up
    (DEBUG included, when it is DEBUG) also to where they went before. Holds only under
    ``_INVOKE_LOCK``: the logger is shared by every function of the process."""
    if into is None:
        yield
        return
    from qqbus.observability import logger

    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        yield
        return
    echo = logging.getLevelName((echo_level or "INFO").upper())
    echo = echo if isinstance(echo, int) else logging.INFO
    buffer = io.StringIO()
    stream = handler.setStream(buffer)
    level = logger.log_level
    logger.setLevel(min(logging.INFO, echo))
    try:
        yield
    finally:
        logger.setLevel(level)
        handler.setStream(stream)
        for line in buffer.getvalue().splitlines():
            line_level = _level_of(line)
            if len(into) < MAX_LOG_LINES and line_level >= logging.INFO:
                into.append(line[:MAX_LOG_CHARS])
            if line_level >= echo and stream is not None:
                print(line, file=stream, flush=True)


def _level_of(line: str) -> int:
    """The level of a Powertools JSON log line (a line that is not one counts as WARNING)."""
    try:
        level = json.loads(line).get("level")
    except (ValueError, AttributeError):
        return logging.WARNING
    found = logging.getLevelName(str(level).upper())
    return found if isinstance(found, int) else logging.WARNING


def function_environment(
    spec: FunctionSpec, refs: dict[str, Any], secrets: DevSecrets, *, log_level: str = "INFO"
) -> dict[str, Any]:
    """The function's Environment from the template, with local secrets instead of SSM names."""
    env: dict[str, Any] = {k: str(v) for k, v in resolve(spec.environment, refs).items()}
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=spec.logical_id,
        POWERTOOLS_LOG_LEVEL=log_level,
        QQ_BOT_SECRET_PARAMETER=None,
        ONEBOT_SECRET_PARAMETER=None,
    )
    if "QQ_BOT_SECRET" in env:
        env["QQ_BOT_SECRET"] = secrets.qq
        env["QQ_BOT_APPID"] = secrets.qq_appid
    if "ONEBOT_SECRET" in env:
        env["ONEBOT_SECRET"] = secrets.onebot or ""
    if "QQBUS_ALLOW_REPLAYS" in env:  # the example payloads are dated in the past
        env["QQBUS_ALLOW_REPLAYS"] = "true"
    return env


def load_functions(
    template: Template,
    refs: dict[str, Any],
    root: Path,
    secrets: DevSecrets | None = None,
    *,
    log_level: str = "INFO",
) -> dict[str, LocalFunction]:
    """Every function of the template, by logical id."""
    secrets = secrets or DevSecrets()
    return {
        spec.logical_id: LocalFunction(
            spec, function_environment(spec, refs, secrets, log_level=log_level), root
        )
        for spec in template.functions()
    }
