"""The kit on handlers `qqbus new handler` writes (a project in a temporary folder): sub_type
routing, the typed notify models, and the generated tests themselves."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from qqbus_dev import scaffold
from qqbus_dev.testing import Bot, NoHandler

from tests.support import REPO, SAMPLES


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the template and handlers with two new handlers: the poke (as the README has
    it, ``--replies``) and the honor (``once=True``, so that a repeat is a duplicate)."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(REPO / "template.yaml", root / "template.yaml")
    for folder in ("handlers", "events", "tests/handlers"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for spec in ("notice.notify.poke", "notice.notify.honor"):
        try:
            made = scaffold.plan(spec, replies=True, root=root)
        except scaffold.ScaffoldError as exc:  # the recipe's copy of the repository has the poke
            assert "already has a handler" in str(exc)
            continue
        scaffold.write(made, root, SAMPLES)
    honor = root / "handlers" / "onebot_notify_honor" / "app.py"
    honor.write_text(honor.read_text().replace("@handler(Honor)", "@handler(Honor, once=True)"))
    return root


@pytest.fixture
def qqbus_project(project: Path) -> Path:
    return project


def _generated_tests(project: Path, folder: str) -> ModuleType:
    path = project / "tests" / "handlers" / f"test_{folder}.py"
    spec = importlib.util.spec_from_file_location(f"generated_test_{folder}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_handler_is_typed_and_answers_group_and_private_pokes(bot: Bot, project: Path) -> None:
    code = (project / "handlers" / "onebot_notify_poke" / "app.py").read_text()
    assert "from qqbus.events.onebot import Poke" in code and "@handler(Poke)" in code
    sample = json.loads((project / "events" / "onebot_notify_poke.json").read_text())["detail"]["payload"]
    assert sample["target_id"] == sample["self_id"]  # the events file pokes the bot
    in_group = bot.receive(bot.onebot.poke(group_id=555))
    assert in_group.functions == ["OnebotNotifyPokeFunction"]
    in_group.should_reply("got it", group_id=555)
    private = bot.receive(bot.onebot.poke(private=True, user_id=42))
    private.should_reply("got it", user_id=42)
    assert private.replies[0].group_id is None and private.replies[0].action.action == "send_private_msg"


def test_sub_types_route_to_their_own_handler_or_nowhere(bot: Bot) -> None:
    assert ("detail", "payload", "sub_type") in bot.stack._pattern_paths()  # part of the route key
    honor = bot.receive(bot.onebot.notice("notify", sub_type="honor", honor_type="talkative"))
    assert honor.functions == ["OnebotNotifyHonorFunction"]
    with pytest.raises(NoHandler, match="lucky_king"):
        bot.receive(bot.onebot.notice("notify", sub_type="lucky_king", target_id=7))


def test_a_once_handler_reports_a_repeat_as_a_duplicate(bot: Bot) -> None:
    event = bot.onebot.notice("notify", sub_type="honor", honor_type="performer")
    first, again = bot.receive(event), bot.receive(event)
    first.should_reply("got it")
    again.should_be_duplicate()
    again.should_not_reply()


@pytest.mark.parametrize("folder", ["onebot_notify_poke", "onebot_notify_honor"])
def test_the_generated_tests_pass_on_the_kit(bot: Bot, project: Path, folder: str) -> None:
    module = _generated_tests(project, folder)
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert len(tests) == 3
    for test in tests:  # each on empty tables, as pytest would run them
        bot.reset()
        test(bot)


def test_a_generated_test_fails_when_the_handler_answers_otherwise(bot: Bot, project: Path) -> None:
    app = project / "handlers" / "onebot_notify_poke" / "app.py"
    original = app.read_text()
    app.write_text(original.replace('ev.reply("got it")', 'ev.reply("ouch")'))
    try:
        bot.reset()  # loads app.py again
        with pytest.raises(AssertionError, match=r"(?s)expected the reply 'got it'.*'ouch'"):
            _generated_tests(project, "onebot_notify_poke").test_it_handles_its_event(bot)
    finally:
        app.write_text(original)
