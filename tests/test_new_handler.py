"""The "Add a handler" recipe itself: in a copy of the repository, the README's own command, then
that copy's whole `make test` passes (the copy's three packages, run by this venv's python)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.support import REPO, SHARED

SKIP = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".qqbus", ".aws-sam", "*.egg-info", ".*_cache")


def _run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def readme_recipe() -> tuple[list[str], list[str]]:
    """README "Add a handler": the command as written (its arguments after ``.venv/bin/qqbus``)
    and the output it shows."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Add a handler\n", 1)[1].split("\n## ", 1)[0]
    command, shown = re.findall(r"```(?:bash)?\n(.*?)```", section, re.DOTALL)[:2]
    (line,) = [c for c in command.splitlines() if c.strip()]
    args = shlex.split(line)
    assert args[0] == ".venv/bin/qqbus", line
    return args[1:], shown.splitlines()


def make_test_command(makefile: Path) -> list[str]:
    """The Makefile's ``test`` recipe, with this venv's python, every core, no extra arguments."""
    text = makefile.read_text(encoding="utf-8")
    recipe = text.split("\ntest: venv\n", 1)[1].splitlines()[0].strip()
    recipe = recipe.replace("$(BIN)/python", shlex.quote(sys.executable)).replace("$(JOBS)", "auto")
    return shlex.split(recipe.replace("$(PYTEST_ARGS)", ""))


def test_the_readme_recipe_is_what_the_slow_test_runs() -> None:
    args, shown = readme_recipe()
    assert args == ["new", "handler", "notice.notify.poke", "--replies"]
    assert shown[0].endswith("model qqbus.events.onebot.Poke")  # a typed model for a known sub_type
    command = make_test_command(REPO / "Makefile")
    assert command[:3] == [sys.executable, "-m", "pytest"] and "not slow" in command


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_readme_recipe_in_a_copy_then_the_copys_whole_make_test(tmp_path: Path) -> None:
    copy = tmp_path / "qqbus"
    shutil.copytree(REPO, copy, ignore=SKIP)
    (tmp_path / "shared").symlink_to(SHARED)  # tests read ../shared, as beside the real checkout
    # the copy's three packages, not ours
    packages = [copy / "layers" / "qqbus", copy / "relay", copy / "devtools"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, packages))}
    qqbus = [sys.executable, "-m", "qqbus_dev"]
    args, shown = readme_recipe()

    made = _run([*qqbus, *args], copy, env)  # as the README has it
    assert made.returncode == 0, made.stdout + made.stderr
    assert made.stdout.splitlines()[: len(shown)] == shown  # and prints what the README shows
    app = (copy / "handlers" / "onebot_notify_poke" / "app.py").read_text()
    assert "@handler(Poke)" in app and 'ev.reply("got it")' in app
    generated = (copy / "tests" / "handlers" / "test_onebot_notify_poke.py").read_text()
    assert 'result.should_reply("got it")' in generated  # the generated test asserts the reply
    again = _run([*qqbus, "new", "handler", "notice.notify.poke"], copy, env)
    assert again.returncode == 2 and "already has a handler" in again.stdout
    bad = _run([*qqbus, "new", "handler", "Not A Type"], copy, env)
    assert bad.returncode == 2 and "is not an event type" in bad.stdout

    bin_dir = Path(sys.executable).parent
    written = ["handlers/onebot_notify_poke", "tests/handlers/test_onebot_notify_poke.py"]
    ruff = str(bin_dir / "ruff")
    for lint in ([ruff, "check", *written], [ruff, "format", "--check", *written]):
        result = _run(lint, copy, env)
        assert result.returncode == 0, result.stdout + result.stderr

    report = tmp_path / "junit.xml"
    command = [*make_test_command(copy / "Makefile"), "-p", "no:cacheprovider", f"--junitxml={report}"]
    result = _run(command, copy, env, timeout=1500)
    tail = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    cases = ElementTree.parse(report).getroot().iter("testcase")
    ran = {(c.get("classname"), c.get("name")): [child.tag for child in c] for c in cases}
    poke = {
        name: outcome
        for (cls, name), outcome in ran.items()
        if cls and cls.endswith("test_onebot_notify_poke")
    }
    assert sorted(poke) == [
        "test_a_payload_that_does_not_fit_is_reported_not_retried",
        "test_a_repeated_delivery_asks_for_the_same_reply",
        "test_it_handles_its_event",
    ] and not any({"failure", "error", "skipped"} & set(tags) for tags in poke.values()), poke
    dev_stack = [name for (cls, name), outcome in ran.items() if cls and cls.endswith("test_dev_stack")]
    assert "test_every_handler_runs_once_and_a_duplicate_changes_nothing" in dev_stack  # the break
