"""The "Add a handler" recipe itself: in a copy of the repository, one command, then the tests pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO, SHARED

SKIP = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".qqbus", ".aws-sam", "*.egg-info", ".*_cache")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_new_handler_in_a_copy_passes_routing_template_packaging_and_lint(tmp_path: Path) -> None:
    copy = tmp_path / "qqbus"
    shutil.copytree(REPO, copy, ignore=SKIP)
    (tmp_path / "shared").symlink_to(SHARED)  # tests read ../shared, as beside the real checkout
    # the copy's three packages, not ours
    packages = [copy / "layers" / "qqbus", copy / "relay", copy / "devtools"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, packages))}
    qqbus = [sys.executable, "-m", "qqbus_dev", "new", "handler"]

    made = _run([*qqbus, "notice.notify.poke", "--replies"], copy, env)  # as the README has it
    assert made.returncode == 0, made.stdout + made.stderr
    assert "handlers/onebot_notify_poke" in made.stdout
    again = _run([*qqbus, "notice.notify.poke"], copy, env)
    assert again.returncode == 2 and "already has a handler" in again.stdout
    bad = _run([*qqbus, "Not A Type"], copy, env)
    assert bad.returncode == 2 and "is not an event type" in bad.stdout

    bin_dir = Path(sys.executable).parent
    written = ["handlers/onebot_notify_poke", "tests/handlers/test_onebot_notify_poke.py"]
    ruff = str(bin_dir / "ruff")
    for lint in ([ruff, "check", *written], [ruff, "format", "--check", *written]):
        result = _run(lint, copy, env)
        assert result.returncode == 0, result.stdout + result.stderr

    tests = [
        "tests/test_wiring.py",
        "tests/test_template.py",
        "tests/test_routing_moto.py",
        "tests/handlers/test_onebot_notify_poke.py",
        "tests/test_packaging.py",
        "-k",
        "not test_packaging or notify_poke",
    ]
    result = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], copy, env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "passed" in result.stdout and "failed" not in result.stdout
