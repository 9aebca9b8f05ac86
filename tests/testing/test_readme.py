"""README "Test your bot": its example is a test file as it stands; run as a bot author would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from qqbus_dev.testing import Bot

from tests.support import REPO


def readme_example() -> str:
    """The first Python block under README's "## Test your bot"."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Test your bot\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "README's 'Test your bot' has no ```python block"
    return found.group(1)


def test_the_readme_example_passes_in_a_project_of_its_own(tmp_path: Path) -> None:
    """In a folder of its own (no conftest of this repository): the plugin comes from the dev
    tools' entry point, the project from the ``qqbus_project`` ini option."""
    code = readme_example()
    tests = re.findall(r"^def (test_\w+)\(bot: Bot\)", code, re.MULTILINE)
    assert len(tests) >= 3
    lint = subprocess.run(  # as clean as the project's own code
        [str(Path(sys.executable).parent / "ruff"), "check", "--stdin-filename", "example.py", "-"],
        cwd=REPO,
        input=code,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout
    (tmp_path / "test_readme_example.py").write_text(code, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(f"[pytest]\nqqbus_project = {REPO}\n", encoding="utf-8")
    fresh = ("AWS_", "PYTEST_", "POWERTOOLS_", "QQBUS_")  # what this suite's conftest sets: none of it
    env = {k: v for k, v in os.environ.items() if not k.startswith(fresh) and not k.endswith("_TABLE_NAME")}
    # a developer's shell pointed at an AWS account: the kit never goes there
    env.update(AWS_PROFILE="qqbus-no-such-profile", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_readme_example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{len(tests)} passed" in run.stdout


def test_the_readme_shows_the_failure_message_the_kit_gives(bot: Bot) -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8").split("\n## Test your bot\n", 1)[1]
    shown = re.search(r"```\n  (AssertionError: .*?)\n  ```", text, re.DOTALL)
    assert shown
    result = bot.receive(bot.onebot.group_message("/ping"))
    try:
        result.should_reply("PONG")
    except AssertionError as failed:
        got = f"AssertionError: {failed}"
    else:
        raise AssertionError("should_reply('PONG') passed on a 'pong'")
    assert got == "\n".join(line.removeprefix("  ") for line in shown.group(1).splitlines())
