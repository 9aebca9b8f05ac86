"""Property-based fuzzing of what the relay parses from the network and from its own disk.

Whatever arrives, the OneBot frame reader, the handshake check, the QQ gateway frame reader and
the spool line reader return an answer and never raise; an entry they make survives the size
computation and the spool; no answer or log line carries the access token or the bot secret.

Cases per test (five tests): 300 in ``make test``; 6,000 with ``QQBUS_FUZZ=long`` (CI):

    QQBUS_FUZZ=long make test PYTEST_ARGS="tests/relay/test_fuzz_frames.py -q"
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from qqbus.detail import entry_size
from qqbus.publish import EventBridgePublisher
from qqbus.relay.onebot_ws import OneBotRelay, OneBotReverseServer, OneBotWsConfig, read_frame
from qqbus.relay.publisher import RelayPublisher
from qqbus.relay.qq_gateway import GatewayConfig, SeqTracker, dispatch_entry, read_gateway_frame
from qqbus.relay.spool import decode_entry, encode_line
from websockets.datastructures import Headers, is_valid_header_value
from websockets.http11 import Request

EXAMPLES = {"long": 6_000}.get(os.environ.get("QQBUS_FUZZ", ""), 300)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

TOKEN = "fuzz-access-token-Zq81"
SECRET = "fuzz-bot-secret-Kp2m"
SELF = "123456789"
CONFIG = OneBotWsConfig("qqbus-fuzz", TOKEN, publish_heartbeats=True)
QQ_CONFIG = GatewayConfig(app_id="1024", secret=SECRET, bus_name="qqbus-fuzz")

# Any Unicode, lone surrogates included (what a JS implementation can emit).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | any_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=10,
)
onebot_like = st.fixed_dictionaries(
    {},
    optional={
        "time": json_values,
        "self_id": st.sampled_from([int(SELF), SELF, 999, "999", -1, True, None, 1.5, [1]]),
        "post_type": st.sampled_from(["message", "notice", "request", "meta_event", 5, None, "\ud83d"]),
        "message_type": st.sampled_from(["group", "private", 1, "\udc00"]),
        "notice_type": st.sampled_from(["group_ban", "group_recall", "friend_add", "x", 3]),
        "meta_event_type": st.sampled_from(["heartbeat", "lifecycle", 0]),
        "sub_type": json_values,
        "user_id": json_values,
        "group_id": json_values,
        "message_id": json_values,
        "message": json_values,
        "raw_message": any_text,
        "echo": json_values,
    },
)
qq_like = st.fixed_dictionaries(
    {},
    optional={
        "op": st.sampled_from([0, 1, 7, 9, 10, 11, "0", None, 0.0, True]),
        "s": st.one_of(st.integers(-5, 2**40), st.none(), st.booleans(), any_text),
        "t": st.sampled_from(["GROUP_AT_MESSAGE_CREATE", "READY", "RESUMED", "", 0, None, "\ud83d"]),
        "id": st.one_of(any_text, st.integers(), st.none()),
        "d": json_values,
    },
)


def as_frame(value: Any, ascii_only: bool) -> str:
    """JSON text as an implementation sends it (a lone surrogate becomes its \\u escape)."""
    return json.dumps(value, ensure_ascii=True) if ascii_only else json.dumps(value, ensure_ascii=False)


frames = st.one_of(
    st.binary(max_size=200),
    any_text,
    st.builds(as_frame, onebot_like, st.booleans()),
    st.builds(as_frame, json_values, st.booleans()),
    st.builds(lambda v: json.dumps(v)[: len(json.dumps(v)) // 2], onebot_like),  # cut short
    st.builds(lambda n: "[" * n + "]" * n, st.integers(0, 5000)),  # deep nesting
)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def logged() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("qqbus.relay")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OneBotReverseServer]:
    with mock_aws():
        publisher = RelayPublisher(EventBridgePublisher(), Path(tmp_path_factory.mktemp("fuzz-spool")))
        yield OneBotReverseServer(OneBotRelay(CONFIG, publisher))


def check_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry survives the size computation and the spool; its detail, parsed."""
    assert entry_size(entry) > 0
    assert decode_entry(encode_line(entry)) == entry
    return dict(json.loads(entry["Detail"]))


@FUZZ
@given(raw=frames, header=st.sampled_from([SELF, None]))
def test_onebot_frames_never_raise(raw: str | bytes, header: str | None) -> None:
    frame = read_frame(raw, self_id=header, transport="reverse_ws", config=CONFIG)
    assert frame.kind in ("event", "heartbeat", "ignored", "refused")
    assert TOKEN not in (frame.problem or "")
    if frame.entry is None:
        return
    detail = check_entry(frame.entry)
    body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    assert detail["payload"] == json.loads(body)  # as received
    assert detail["bot_id"] == frame.bot_id
    if header is not None:
        assert frame.bot_id == header


# What websockets' HTTP parser lets through to the check (it refuses control characters itself).
header_values = st.text(st.characters(codec="latin-1"), max_size=30).filter(is_valid_header_value)


@FUZZ
@given(
    self_id=st.one_of(st.none(), st.just(SELF), header_values),
    role=st.one_of(st.none(), st.sampled_from(["Universal", "event", "API", "Nonsense"]), header_values),
    auth=st.one_of(
        st.none(),
        st.sampled_from(
            [f"Bearer {TOKEN}", f"Token {TOKEN}", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
        ),
        header_values,
    ),
    query=st.one_of(
        st.just(""), st.just(f"?access_token={TOKEN}"), st.just("?access_token=x"), header_values
    ),
)
@example(self_id=SELF, role=None, auth=None, query="/[")  # the long profile found it: urlsplit raised
def test_handshakes_never_raise_and_never_echo_the_token(
    server: OneBotReverseServer,
    logged: Lines,
    self_id: str | None,
    role: str | None,
    auth: str | None,
    query: str,
) -> None:
    headers = Headers()
    for name, value in (("X-Self-ID", self_id), ("X-Client-Role", role), ("Authorization", auth)):
        if value is not None:
            headers[name] = value
    logged.lines.clear()
    response = server._check(None, Request("/" + query, headers))  # type: ignore[arg-type]
    if response is None:  # accepted: only with the token and a numeric X-Self-ID
        assert (self_id or "").strip().isdigit()
        assert TOKEN in (auth or "") + query
        return
    assert response.status_code in (400, 401, 403)
    assert TOKEN.encode() not in response.body
    assert all(TOKEN not in value for _, value in response.headers.raw_items())
    assert all(TOKEN not in line for line in logged.lines)


@FUZZ
@given(raw=st.one_of(frames, st.builds(as_frame, qq_like, st.booleans())))
def test_qq_gateway_frames_never_raise(raw: str | bytes) -> None:
    message = read_gateway_frame(raw)
    if message is None:
        return
    assert isinstance(message, dict)
    t = message.get("t")
    if message.get("op") != 0 or not isinstance(t, str) or not t:
        return
    detail = check_entry(dispatch_entry(message, raw, QQ_CONFIG))
    assert detail["payload"] == message and detail["bot_id"] == "1024"
    assert SECRET not in json.dumps(detail)


@FUZZ
@given(line=st.one_of(st.binary(max_size=300), st.builds(lambda v: encode_line(v), json_values)))
def test_spool_lines_never_raise(line: bytes) -> None:
    entry = decode_entry(line)
    assert isinstance(entry, (str, dict))
    if isinstance(entry, dict):
        assert all(isinstance(entry[k], str) for k in ("Source", "DetailType", "Detail"))


@FUZZ
@given(
    steps=st.lists(
        st.tuples(st.integers(1, 40), st.sampled_from(["published", "rejected", "spooled", "dropped", None])),
        max_size=120,
    )
)
def test_seq_tracker_submits_a_seq_once_unless_it_was_dropped(steps: list[tuple[int, Any]]) -> None:
    """Seqs arrive in any order, replayed or not; each is submitted again only after a drop, and
    the resume seq stays below every seq that is not safe yet."""
    tracker = SeqTracker()
    live: set[int] = set()  # submitted and not dropped
    unsettled: set[int] = set()  # submitted, on_done not yet called (it is called once)
    holes: set[int] = set()
    for seq, outcome in steps:
        if tracker.admit(seq):
            assert seq not in live
            live.add(seq)
            unsettled.add(seq)
            holes.discard(seq)
        if outcome is not None and seq in unsettled:
            unsettled.discard(seq)
            tracker.settled(seq, outcome)
            if outcome == "dropped":
                live.discard(seq)
                holes.add(seq)
        assert tracker.resume_seq <= (tracker.last_received or 0)
        assert all(s > tracker.resume_seq for s in unsettled | holes)
