"""The pytest plugin of the test kit: the ``bot`` fixture (registered as ``qqbus`` by the dev
tools' ``pytest11`` entry point, so installing ``qqbus-dev`` is all a project needs).

- ``bot``: a ``Bot`` on the project's template, AWS on moto, emptied before each test.
- ``qqbus_project``: the project root (the nearest ``template.yaml`` from pytest's rootdir, or the
  ``qqbus_project`` ini option); override the fixture to point elsewhere.
- ``qqbus_parameters``: template parameters for the functions' environments (``{}``); override
  it in a ``conftest.py`` (or call ``bot.set_parameters``) to try e.g. ``CommandAdmins``.

The template's resources are made once and kept while kit tests follow one another; a test that
is not one finds moto as it found it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qqbus_dev.template import find_project
from qqbus_dev.testing.bot import Bot
from qqbus_dev.testing.stack import REGION, KitStack

_stacks: dict[tuple[Path, tuple[tuple[str, str], ...]], KitStack] = {}
#: Whether the test after the one ending uses the kit too (then its resources stay).
_next_uses_kit = False

FIXTURE = "bot"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "qqbus_project", "qqbus: the project (folder of template.yaml) the bot fixture runs", default=""
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    global _next_uses_kit
    _next_uses_kit = nextitem is not None and FIXTURE in getattr(nextitem, "fixturenames", ())


@pytest.fixture(scope="session")
def qqbus_project(pytestconfig: pytest.Config) -> Path:
    """The project whose handlers and template.yaml the ``bot`` fixture runs."""
    configured = str(pytestconfig.getini("qqbus_project") or "")
    if configured:
        return find_project(pytestconfig.rootpath / configured)
    return find_project(pytestconfig.rootpath)


@pytest.fixture
def qqbus_parameters() -> dict[str, str]:
    """Template parameters (``--parameter-overrides`` style) for the functions' environments."""
    return {}


@pytest.fixture
def bot(
    qqbus_project: Path, qqbus_parameters: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Bot]:
    """A bot on the project's template: ``bot.receive(bot.onebot.group_message("/ping"))``."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION") or REGION)
    key = (qqbus_project.resolve(), tuple(sorted(qqbus_parameters.items())))
    stack = _stacks.get(key)
    if stack is None:
        stack = _stacks[key] = KitStack(qqbus_project, dict(qqbus_parameters))
    stack.open()
    try:
        with Bot(stack) as made:
            yield made
    finally:
        stack.close(keep=_next_uses_kit)
