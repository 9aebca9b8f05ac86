"""The `qqbus` command acts on the project you stand in (the nearest template.yaml upward), or on
`--project DIR`, never on the checkout it was installed from: a shared venv serves a second clone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from qqbus_dev.template import ProjectNotFound, find_project

from tests.support import REPO

#: Not the README's poke: the "Add a handler" recipe runs this suite in a copy that has the poke.
POKE = "handlers/onebot_notify_lucky_king"


def minimal_project(at: Path) -> Path:
    """The least a project needs for these commands: its template and the folders a handler goes in."""
    at.mkdir(parents=True)
    shutil.copy(REPO / "template.yaml", at / "template.yaml")
    for folder in ("handlers", "events", "tests/handlers"):
        (at / folder).mkdir(parents=True)
    return at


def qqbus(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command (this checkout's code), run from ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHONPATH"))}
    return subprocess.run(
        [sys.executable, "-m", "qqbus_dev", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_project_is_the_nearest_template_upward(tmp_path: Path) -> None:
    clone = minimal_project(tmp_path / "clone")
    (clone / "handlers" / "deep").mkdir()
    assert find_project(clone / "handlers" / "deep") == clone.resolve()
    assert find_project(clone) == clone.resolve()
    with pytest.raises(ProjectNotFound, match="--project DIR"):
        find_project(tmp_path)


def test_new_handler_in_a_second_clone_writes_into_that_clone(tmp_path: Path) -> None:
    clone = minimal_project(tmp_path / "second-clone")
    ours_before = (REPO / POKE).exists()
    spec = "notice.notify.lucky_king"
    made = qqbus("new", "handler", spec, "--replies", cwd=clone / "events")  # from a subfolder
    assert made.returncode == 0, made.stdout + made.stderr
    assert (clone / POKE / "app.py").is_file()
    assert (clone / "events" / "onebot_notify_lucky_king.json").is_file()
    assert "OnebotNotifyLuckyKingFunction" in (clone / "template.yaml").read_text(encoding="utf-8")
    assert (REPO / POKE).exists() == ours_before  # the installed checkout is untouched
    assert "OnebotNotifyLuckyKingFunction" not in (REPO / "template.yaml").read_text(encoding="utf-8")


def test_project_option_names_the_project_from_anywhere(tmp_path: Path) -> None:
    clone = minimal_project(tmp_path / "clone")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = qqbus("new", "handler", "notice.notify.lucky_king", cwd=elsewhere)
    assert outside.returncode == 2 and "Traceback" not in outside.stderr
    assert outside.stderr.strip() == (
        f"qqbus new: no template.yaml in {elsewhere.resolve()} or above it: run this inside a qqbus"
        " project, or pass --project DIR"
    )
    for where in (["--project", str(clone), "new", "handler"], ["new", "handler", "--project", str(clone)]):
        made = qqbus(*where, "notice.notify.lucky_king", cwd=elsewhere)
        assert made.returncode in (0, 2), made.stderr
        assert (clone / POKE / "app.py").is_file()
        if made.returncode == 2:  # the second time: the clone has it now
            assert "already has a handler" in made.stdout
    cost = qqbus("cost", "--events-per-day", "1000", "--project", str(clone), cwd=elsewhere)
    assert cost.returncode == 0 and "total" in cost.stdout, cost.stderr


def test_dev_runs_the_template_of_the_project_it_stands_in(tmp_path: Path) -> None:
    """A wrong override is refused by the clone's own template: its parameters, not ours."""
    clone = minimal_project(tmp_path / "clone")
    text = (clone / "template.yaml").read_text(encoding="utf-8")
    (clone / "template.yaml").write_text(
        text.replace(
            "Parameters:\n", "Parameters:\n  OnlyInTheClone:\n    Type: String\n    Default: x\n", 1
        ),
        encoding="utf-8",
    )
    bad = ["--port", "0", "--aws-port", "0", "--state-file", "/nonexistent/dev.json", "--parameter-overrides"]
    refused = qqbus("dev", *bad, "OnlyInTheClone=", "Nope=1", cwd=clone / "handlers")
    assert refused.returncode == 2 and "no parameter 'Nope'" in refused.stderr, refused.stderr
    assert "OnlyInTheClone" in refused.stderr  # listed among the clone's parameters
