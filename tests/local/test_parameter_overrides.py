"""`--parameter-overrides` (sam deploy's syntax) for `qqbus dev` and `qqbus invoke`: read, checked
against template.yaml in one line, and used for the functions' environments; CommandAdmins on QQ
through the real `qqbus send`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from qqbus_dev.functions import DevSecrets, function_environment
from qqbus_dev.provision import local_refs
from qqbus_dev.template import ParameterError, Template, parameter_overrides

from tests.local.stacks import Stack, running_stack
from tests.support import EVENTS, REPO

QQ_ADMIN = "0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B"
QQ_MEMBER = "E4F4AEA33253A2797FB897C50B81D7ED"


def qqbus(*args: str, cwd: Path = REPO, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real command, in a process of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "qqbus_dev", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["CommandAdmins=a,b"], {"CommandAdmins": "a,b"}),  # commas stay in a plain value
        (["ParameterKey=QqEgress,ParameterValue=nat"], {"QqEgress": "nat"}),
        (["LogLevel=DEBUG QqSandbox=true"], {"LogLevel": "DEBUG", "QqSandbox": "true"}),  # one string
        (
            ["LogLevel=DEBUG", "ParameterKey=QqSandbox,ParameterValue=true"],
            {"LogLevel": "DEBUG", "QqSandbox": "true"},
        ),
        (['RequestCommentPattern="let me in"'], {"RequestCommentPattern": "let me in"}),
        (["ParameterKey=CommandAdmins,ParameterValue=x,y"], {"CommandAdmins": "x,y"}),
        (["AlarmEmail="], {"AlarmEmail": ""}),
        (["LogLevel=INFO", "LogLevel=ERROR"], {"LogLevel": "ERROR"}),  # the last one wins
    ],
)
def test_overrides_read_as_sam_deploy_reads_them(values: list[str], expected: dict[str, str]) -> None:
    assert parameter_overrides(values) == expected


@pytest.mark.parametrize("value", ["CommandAdmins", "=x", "Log-Level=x", 'A="open'])
def test_a_malformed_override_is_refused(value: str) -> None:
    with pytest.raises(ParameterError):
        parameter_overrides([value])


def test_the_template_refuses_unknown_names_and_values_it_does_not_allow() -> None:
    template = Template.read(REPO / "template.yaml")
    template.check_parameters({"QqEgress": "relay", "MaxBodyBytes": "1000", "CommandAdmins": "x"})
    for bad, words in [
        ({"CommandAdmin": "x"}, "no parameter 'CommandAdmin'"),
        ({"QqEgress": "vpn"}, "AllowedValues: direct, nat, relay"),
        ({"Stage": "Prod"}, "AllowedPattern"),
        ({"MaxBodyBytes": "300000"}, "MaxValue 250000"),
        ({"MaxBodyBytes": "lots"}, "not a number"),
    ]:
        with pytest.raises(ParameterError, match=words):
            template.check_parameters(bad)


def test_an_override_reaches_the_function_environment() -> None:
    template = Template.read(REPO / "template.yaml")
    refs = local_refs(template, "us-east-1", parameters={"CommandAdmins": "u1,u2", "LogLevel": "DEBUG"})
    spec = next(f for f in template.functions() if f.folder == "qq_group_at_message_create")
    assert function_environment(spec, refs, DevSecrets())["QQBUS_COMMAND_ADMINS"] == "u1,u2"
    defaults = local_refs(template, "us-east-1")
    assert function_environment(spec, defaults, DevSecrets())["QQBUS_COMMAND_ADMINS"] == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--parameter-overrides", "NoSuchThing=1"], "no parameter 'NoSuchThing'"),
        (["--parameter-overrides", "QqEgress=vpn"], "QqEgress='vpn': not one of its AllowedValues"),
        (["--parameter-overrides", "oops"], "is not Key=Value"),
        (["--stage", "a", "--parameter-overrides", "Stage=b"], "give the stage once"),
    ],
)
def test_dev_refuses_a_wrong_override_in_one_line_before_starting(args: list[str], words: str) -> None:
    done = qqbus("dev", "--port", "0", "--aws-port", "0", "--state-file", "/nonexistent/dev.json", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""  # nothing started
    (line,) = done.stderr.splitlines()
    assert line.startswith("qqbus dev: ") and words in line


def test_invoke_takes_overrides_too(capsys: pytest.CaptureFixture[str]) -> None:
    from qqbus_dev.cli import main

    invoke = ["invoke", "qq_group_add_robot", str(EVENTS / "qq_group_add_robot.json")]
    assert main([*invoke, "--parameter-overrides", "Nope=1"]) == 2
    assert (
        "qqbus invoke: --parameter-overrides: template.yaml has no parameter 'Nope'"
        in capsys.readouterr().err
    )
    assert main([*invoke, "--parameter-overrides", "CommandAdmins=x"]) == 0


# --- CommandAdmins on QQ, on a running `qqbus dev` --------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("overrides")
    with running_stack(tmp, "--parameter-overrides", f"CommandAdmins={QQ_ADMIN}", "LogLevel=INFO") as running:
        yield running


def qq_message(tmp: Path, text: str, user: str) -> Path:
    """An edited copy of the events file a bot author would start from."""
    event = json.loads((EVENTS / "qq_group_at_message_create.json").read_text(encoding="utf-8"))
    event["detail"]["payload"]["d"].update(content=f" {text}", author={"member_openid": user})
    path = tmp / f"say-{abs(hash((text, user)))}.json"
    path.write_text(json.dumps(event, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_listed_qq_user_runs_an_admin_command_locally(stack: Stack, tmp_path: Path) -> None:
    denied = qqbus("send", str(qq_message(tmp_path, "/disable roll", QQ_MEMBER)), "--url", stack.http)
    assert denied.returncode == 0, denied.stderr
    assert "not allowed" in denied.stdout and "is disabled" not in denied.stdout

    allowed = qqbus("send", str(qq_message(tmp_path, "/disable roll", QQ_ADMIN)), "--url", stack.http)
    assert allowed.returncode == 0, allowed.stderr
    assert "=> /roll is disabled in this group" in allowed.stdout, allowed.stdout
    rolled = qqbus("send", str(qq_message(tmp_path, "/roll 1d6", QQ_MEMBER)), "--url", stack.http)
    assert "=> /roll is disabled in this group" in rolled.stdout, rolled.stdout
