"""Each invocation ends with one INFO line: its notes, its keys and its metrics (EMF) together."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator

import pytest
from qqbus.observability import count, logger, note, summarised
from qqbus_dev.lambda_context import LocalContext


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    out = io.StringIO()
    before = logger.registered_handler.setStream(out)  # type: ignore[attr-defined]
    try:
        yield out
    finally:
        logger.registered_handler.setStream(before)  # type: ignore[attr-defined]


def _read(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_notes_join_into_one_line_with_the_metrics(lines: io.StringIO) -> None:
    @summarised
    def handler(event: dict, context: object) -> str:
        note("group message", group_id=5, outcome="first")
        count("EventsHandled")
        note("command /ping", command="ping", outcome="run")
        return "ok"

    assert handler({}, LocalContext()) == "ok"
    (line,) = _read(lines)
    assert line["message"] == "group message; command /ping"
    assert line["group_id"] == 5 and line["command"] == "ping" and line["outcome"] == "run"  # last wins
    assert line["EventsHandled"] == 1 and line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "qqbus"
    assert "timestamp" not in line and "location" not in line  # CloudWatch has them (above DEBUG)


def test_a_crash_still_writes_what_was_noted(lines: io.StringIO) -> None:
    @summarised
    def handler(event: dict, context: object) -> str:
        note("group message", group_id=7)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        handler({}, LocalContext())
    (line,) = _read(lines)
    assert line["message"] == "group message" and line["group_id"] == 7
    handler_again = summarised(lambda e, c: "quiet")
    handler_again({}, LocalContext())
    assert len(_read(lines)) == 1  # nothing carried over into the next invocation


def test_outside_an_invocation_a_note_is_written_at_once(lines: io.StringIO) -> None:
    note("onebot.send_msg sent", mode="relay")  # the relay reports results this way
    (line,) = _read(lines)
    assert line["message"] == "onebot.send_msg sent" and line["level"] == "INFO"


def test_another_threads_notes_stay_out_of_an_invocation(lines: io.StringIO) -> None:
    inside, done = threading.Event(), threading.Event()

    @summarised
    def handler(event: dict, context: object) -> None:
        note("mine")
        inside.set()
        assert done.wait(5)

    worker = threading.Thread(target=handler, args=({}, LocalContext()))
    worker.start()
    assert inside.wait(5)
    note("the relay's")  # another thread, no invocation of its own: written now
    done.set()
    worker.join(5)
    assert [line["message"] for line in _read(lines)] == ["the relay's", "mine"]


def test_the_trace_id_is_kept_only_when_x_ray_sampled_the_request(
    lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = logger.inject_lambda_context(clear_state=True)(summarised(lambda e, c: note("x")))
    root = "1-5759e988-bd862e3fe1be46a994272793"
    for sampled in ("0", "1", "0"):
        monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={root};Parent=53995c3f42cd8ad8;Sampled={sampled}")
        handler({}, LocalContext())
    assert [line.get("xray_trace_id") for line in _read(lines)] == [None, root, None]
