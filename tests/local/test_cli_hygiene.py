"""The `qqbus` command never answers a user's mistake with a traceback, ends quietly when its reader
leaves (`qqbus send ... | head`), and explains every option in its help."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from qqbus_dev.cli import build_parser

from tests.local.stacks import Stack, running_stack
from tests.support import EVENTS, REPO


def qqbus(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "qqbus_dev", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _undocumented(parser: argparse.ArgumentParser, path: str) -> Iterator[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    yield f"{path} {name} (the subcommand)"
                yield from _undocumented(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction) and not (action.help or "").strip():
            yield f"{path} {'/'.join(action.option_strings) or action.dest}"


def test_every_option_of_every_subcommand_has_help() -> None:
    parser = build_parser()
    assert list(_undocumented(parser, "qqbus")) == []
    assert {"dev", "send", "groups", "relay", "cost", "new", "doctor", "invoke"} <= set(
        next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    )


def test_the_walk_finds_an_option_without_help() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers().add_parser("x", help="x")
    sub.add_argument("--bare")
    assert list(_undocumented(parser, "p")) == ["p x --bare"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["dev", "--port", "99999"], "is not a port"),
        (["dev", "--template", "/nonexistent/template.yaml"], "cannot read /nonexistent/template.yaml"),
        (["dev", "--template", "README.md"], "README.md is not a template"),
        (["dev", "--port", "0", "--aws-port", "0", "--relay-onebot", "nowhere"], "is not HOST:PORT"),
        (["cost", "--events-per-day", "-3"], "is not a whole number"),
        (["send", "README.md"], "is not an event to send"),
        (["send", "events"], "cannot read events"),
        (["invoke", "qq_group_add_robot", "no-such.json"], "cannot read no-such.json"),
        (["groups", "--endpoint-url", "http://127.0.0.1:1", "--table", "t"], "qqbus groups: "),
        (["new", "handler", "Not A Type"], "is not an event type"),
        (["--project", "/", "new", "handler", "FRIEND_ADD"], "no template.yaml there"),
    ],
)
def test_a_mistake_is_one_line_and_no_traceback(args: list[str], words: str) -> None:
    done = qqbus(*args, "--state-file", "/nonexistent/dev.json") if args[0] == "dev" else qqbus(*args)
    said = done.stdout + done.stderr
    assert done.returncode in (1, 2), said  # 2: argparse's and the commands' usage errors
    assert "Traceback" not in said, said
    last = (done.stderr or done.stdout).strip().splitlines()[-1]  # after argparse's usage, if any
    assert words in last and last.startswith("qqbus"), said


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("pipe")) as running:
        yield running


def test_send_into_a_pipe_closed_early_ends_quietly(stack: Stack) -> None:
    """`qqbus send ... | head -1`: the reader leaves after the first line, the rest has nowhere to go."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qqbus_dev",
            "send",
            str(EVENTS / "qq_group_at_message_create.json"),
            "--url",
            stack.http,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"200 ")  # as head -1 reads it
    proc.stdout.close()  # ... and goes: the trace lines that follow meet a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 141, err  # as a process that SIGPIPE ended
    assert err == "", err  # no BrokenPipeError, no "Exception ignored"


def test_head_in_a_real_shell_pipeline(stack: Stack) -> None:
    send = (
        f"{sys.executable} -m qqbus_dev send {EVENTS / 'qq_group_at_message_create.json'} --url {stack.http}"
    )
    done = subprocess.run(
        ["sh", "-c", f"{send} | head -1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    assert done.stdout.startswith("200 ") and len(done.stdout.splitlines()) == 1
    assert done.stderr == "", done.stderr
