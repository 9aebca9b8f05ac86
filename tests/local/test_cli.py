"""`qqbus send` signing, `qqbus groups` rendering, `qqbus invoke` on moto."""

from __future__ import annotations

import json

import pytest
from qqbus.signatures import onebot_verify, qq_verify
from qqbus.state import MUTED_UNTIL_LIFTED, GroupState
from qqbus_dev.cli import main
from qqbus_dev.functions import DEV_ONEBOT_SECRET, DEV_QQ_APPID, DEV_QQ_SECRET
from qqbus_dev.groups_view import render
from qqbus_dev.send import prepare

from tests.support import EVENTS, SAMPLES


def test_send_signs_a_raw_qq_payload_over_its_exact_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (SAMPLES / "qq/official_group_add_robot.json").read_bytes()  # tabs and newlines kept
    p = prepare(raw)
    assert p.path == "/qq/webhook" and p.body == raw
    assert p.headers["X-Bot-Appid"] == DEV_QQ_APPID
    assert qq_verify(DEV_QQ_SECRET, p.headers["X-Signature-Timestamp"], raw, p.headers["X-Signature-Ed25519"])


def test_send_takes_the_payload_of_an_events_file() -> None:
    p = prepare((EVENTS / "onebot_group_ban.json").read_bytes())
    assert p.path == "/onebot" and p.headers["X-Self-ID"] == "123456789"
    assert json.loads(p.body)["notice_type"] == "group_ban"
    assert onebot_verify(DEV_ONEBOT_SECRET, p.body, p.headers["X-Signature"])


def test_send_passes_a_function_url_event_through() -> None:
    event = json.loads((EVENTS / "qq_webhook.json").read_text())
    p = prepare((EVENTS / "qq_webhook.json").read_bytes())
    assert p.path == "/qq/webhook" and p.body == event["body"].encode()


def test_send_refuses_what_is_no_event() -> None:
    with pytest.raises(ValueError, match="neither"):
        prepare(b'{"hello": 1}')


def test_groups_table_rendering() -> None:
    states = [
        GroupState(bot_id="1", group_id="2", protocol="onebot", member=True, muted_until=MUTED_UNTIL_LIFTED),
        GroupState(
            bot_id="1",
            group_id="3",
            protocol="qq",
            proactive=False,
            reply_event_id="GROUP_ADD_ROBOT:" + "x" * 40,
        ),
    ]
    text = render(states)
    assert text.splitlines()[0].split() == [
        "bot_id",
        "group_id",
        "protocol",
        "member",
        "proactive",
        "muted_until",
        "group_muted_until",
        "bot_admin",
        "reply_event_id",
    ]
    assert "until lifted" in text and "true" in text and "..." in text
    assert json.loads(render(states, as_json=True))[0] == {
        "bot_id": "1",
        "group_id": "2",
        "protocol": "onebot",
        "member": True,
        "muted_until": MUTED_UNTIL_LIFTED,
    }
    assert render([]) == "(no rows yet)"


def test_invoke_runs_a_handler_on_moto(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoke", "onebot_group_ban", str(EVENTS / "onebot_group_ban.json")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"')]
    rows = [line["groups_row"] for line in lines if "groups_row" in line]
    assert rows and rows[0]["muted_until"] == 1718000035 + 600


def test_invoke_an_ingress_function_shows_what_reached_the_bus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoke", "onebot_http", str(EVENTS / "onebot_http.json")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"')]
    result = next(line for line in lines if "result" in line)["result"]
    assert result["statusCode"] == 204
    (bus,) = [line["on_the_bus"] for line in lines if "on_the_bus" in line]
    assert bus["rule"] == "OnebotGroupMessageFunction"


def test_group_times_carry_their_offset_and_say_when_they_have_passed() -> None:
    import time as _time

    from qqbus_dev.groups_view import readable_time

    past = readable_time(1_700_000_000, now=1_800_000_000)
    future = readable_time(1_900_000_000, now=1_800_000_000)
    assert past.endswith("(expired)") and "expired" not in future
    offset = _time.strftime("%z", _time.localtime(1_900_000_000))
    assert future.endswith(offset)
    assert readable_time(MUTED_UNTIL_LIFTED) == "until lifted"


def test_the_users_view_shows_friends_and_opt_in() -> None:
    from qqbus.state import UserState
    from qqbus_dev.groups_view import USER_COLUMNS

    text = render(
        [
            UserState(
                bot_id="1", user_id="U", protocol="qq", friend=True, proactive=False, reply_event_id="F:1"
            )
        ],
        columns=USER_COLUMNS,
    )
    header, row = text.splitlines()
    assert header.split() == list(USER_COLUMNS)
    assert row.split() == ["1", "U", "qq", "true", "false", "F:1"]


def test_send_errors_are_one_line_with_the_fix(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    assert main(["send", str(EVENTS / "qq_group_add_robot.json"), "--url", closed]) == 2
    assert main(["send", str(EVENTS / "env.local.json"), "--url", closed]) == 2
    assert main(["send", "no-such-file.json", "--url", closed]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and "Traceback" not in "".join(lines)
    assert "start it with `make dev`" in lines[0]
    assert "is not an event to send" in lines[1] and "cannot read no-such-file.json" in lines[2]


def test_invoke_wraps_a_raw_payload_as_the_ingress_would(capsys: pytest.CaptureFixture[str]) -> None:
    raw = str(SAMPLES / "qq/official_group_add_robot.json")
    assert main(["invoke", "qq_group_add_robot", raw]) == 0
    rows = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"groups_row')
    ]
    assert rows and rows[0]["groups_row"]["member"] is True
    assert main(["invoke", "qq_webhook", raw]) == 0  # signed and wrapped as a Function URL event
    results = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"function"')]
    assert results[-1]["result"]["statusCode"] == 200


def test_invoke_refuses_what_is_no_event_or_no_function() -> None:
    with pytest.raises(SystemExit, match="not an event"):
        main(["invoke", "qq_group_add_robot", str(EVENTS / "env.local.json")])
    with pytest.raises(SystemExit, match="no function 'nope'"):
        main(["invoke", "nope", str(EVENTS / "qq_group_add_robot.json")])


def test_dev_fails_fast_naming_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dev", "--port", str(port), "--aws-port", "0", "--state-file", "/nonexistent/x"]) == 2
    assert f"HTTP port 127.0.0.1:{port} is in use" in capsys.readouterr().err
