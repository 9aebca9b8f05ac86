"""The template's functions as local callables: code from CodeUri, Environment from the template.

Several functions share one process here, so each invocation runs under one lock with its own
function's environment in ``os.environ`` (as its Lambda would have it), restored afterwards.
Secrets come from the dev values below instead of SSM. An invocation can keep the log lines it
wrote (``invoke(event, logs=[])``, for the console's trace); the lines at or above the function's
own level still reach the terminal as before.

Live reload (``qqbus dev``): a ``CodeWatch`` shared by the functions looks at the mtimes of the
handlers' files and of the ``qqbus`` runtime package before each invocation. A change starts a
new generation: the runtime package is forgotten (``sys.modules``), so that its module-level
state (the command registry, ``qqbus.aws``'s cached clients, the models) is built afresh, and
each function loads its module again before its next event, as a new Lambda instance would.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
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


class CodeWatch:
    """The files the functions run, and a generation that moves on whenever one of them changes.

    ``packages`` are the importable packages the functions share (name -> folder; by default the
    ``qqbus`` runtime): on a change their modules leave ``sys.modules``, and the next import
    builds them again. ``on_change(files)`` is called (under the invocation lock) after that,
    e.g. to print a line and to hook into the new modules.
    """

    def __init__(
        self,
        folders: list[Path],
        packages: dict[str, Path] | None = None,
        on_change: Callable[[list[Path]], None] | None = None,
    ) -> None:
        if packages is None:
            import qqbus

            packages = {"qqbus": Path(qqbus.__file__).resolve().parent}
        self.folders = sorted(set(folders))
        self.packages = packages
        self.on_change = on_change
        self.generation = 0
        self._stamps = self._scan()

    def _scan(self) -> dict[Path, tuple[int, int]]:
        files = [f for folder in self.folders for f in folder.glob("*.py")]
        files += [f for folder in self.packages.values() for f in folder.rglob("*.py")]
        stamps = {}
        for path in files:
            try:
                st = path.stat()
            except OSError:  # removed while we looked
                continue
            stamps[path] = (st.st_mtime_ns, st.st_size)
        return stamps

    def check(self) -> list[Path]:
        """The files changed, added or removed since the last check; a new generation if any."""
        stamps = self._scan()
        changed = sorted(
            p for p in stamps.keys() | self._stamps.keys() if stamps.get(p) != self._stamps.get(p)
        )
        if not changed:
            return []
        self._stamps = stamps
        self.generation += 1
        for name in [m for m in sys.modules if m in self.packages or m.split(".", 1)[0] in self.packages]:
            del sys.modules[name]
        if self.on_change is not None:
            self.on_change(changed)
        return changed


class LocalFunction:
    """One function of the template, loaded and callable as Lambda would call it.

    With a ``watch``, the function loads its module again before an invocation when the watch's
    generation moved on (a file changed); a module that does not load (a syntax error) fails
    that invocation, and the next one tries again.
    """

    def __init__(
        self, spec: FunctionSpec, env: dict[str, Any], root: Path, watch: CodeWatch | None = None
    ) -> None:
        self.spec = spec
        self.env = env
        self.root = root
        self.watch = watch
        self.timeout_s = float(spec.properties.get("Timeout", 30))
        self.generation = watch.generation if watch is not None else 0
        with environment(env):
            self.module = self._load()
        self.handler = getattr(self.module, spec.handler.rpartition(".")[2])

    @property
    def name(self) -> str:
        return self.spec.logical_id

    @property
    def folder(self) -> Path:
        return self.root / self.spec.code_uri

    def _reload_if_changed(self) -> None:
        """Under ``_INVOKE_LOCK`` and the function's environment (its module reads it at import)."""
        if self.watch is None:
            return
        self.watch.check()
        if self.generation != self.watch.generation:
            generation = self.watch.generation
            module = self._load()  # raises: the old module stays, and the next invocation tries again
            self.module, self.handler = module, getattr(module, self.spec.handler.rpartition(".")[2])
            self.generation = generation

    def _load(self) -> ModuleType:
        module_name = self.spec.handler.rpartition(".")[0]
        path = self.folder / f"{module_name}.py"
        spec = importlib.util.spec_from_file_location(f"qqbus_fn_{self.spec.logical_id}", path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"no handler module at {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def invoke(self, event: dict[str, Any], *, logs: list[str] | None = None) -> Any:
        """Call the handler; with ``logs``, its log lines (INFO and up) are appended to it."""
        with _INVOKE_LOCK, environment(self.env):
            self._reload_if_changed()
            with captured_logs(logs, self.env.get("POWERTOOLS_LOG_LEVEL")):
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
    watch: Callable[[list[Path]], CodeWatch] | None = None,
) -> dict[str, LocalFunction]:
    """Every function of the template, by logical id; ``watch(folders)`` makes the ``CodeWatch``
    they share (live reload), when given."""
    secrets = secrets or DevSecrets()
    specs = template.functions()
    shared = watch([root / spec.code_uri for spec in specs]) if watch is not None else None
    return {
        spec.logical_id: LocalFunction(
            spec, function_environment(spec, refs, secrets, log_level=log_level), root, shared
        )
        for spec in specs
    }
