"""Property-based fuzzing of what the relay parses from the network and from its own disk.

Whatever arrives, the OneBot frame reader, the handshake check, the QQ gateway frame reader and
the spool line reader return an answer and never raise; an entry they make survives the size
computation and the spool; no answer or log line carries the access token or the bot secret.

And the relay refuses what the HTTP ingress refuses: a real OneBot event with a value or a type
from the ingress's own cases (``tests/ingress/uncarriable.py``) is published by the relay
exactly when ``onebot_http`` accepts it, with the same payload and detail-type.

Cases per test (six tests): 300 in ``make test``; 6,000 with ``QQBUS_FUZZ=long`` (CI):

    QQBUS_FUZZ=long make test PYTEST_ARGS="tests/relay/test_fuzz_frames.py -q"
"""

from __future__ import annotations

import asyncio
import copy
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
from qqbus.detail import detail_type_problem
from qqbus.ingress import bus as ingress_bus
from qqbus.ingress import onebot_http
from qqbus.ingress.function_url import Request
from qqbus.json_body import MAX_JSON_DEPTH, read_json_object
from qqbus.publish import EventBridgePublisher, Failed, Publisher, entry_size
from qqbus_relay.onebot_ws import Frame, OneBotRelay, OneBotReverseServer, OneBotWsConfig, read_frame
from qqbus_relay.publisher import RelayPublisher
from qqbus_relay.qq_gateway import GatewayConfig, SeqTracker, dispatch_entry, read_gateway_frame
from qqbus_relay.spool import decode_entry, encode_line
from websockets.datastructures import Headers, is_valid_header_value
from websockets.http11 import Request as Handshake

from tests.ingress.uncarriable import DEPTHS, INJECTIONS, MARK, MARK_JSON, TYPES, nested
from tests.support import SAMPLES, load_json

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
    logger = logging.getLogger("qqbus_relay")
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
    # Only what the ingress's reader takes, with a type the bus can route: nothing the bus refuses.
    assert read_json_object(body)[1] is None and detail_type_problem(frame.entry["DetailType"]) is None
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
    response = server._check(None, Handshake("/" + query, headers))  # type: ignore[arg-type]
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
    """The gateway door reads frames as HTTP ingress reads bodies: what it would publish is
    exactly what the ingress's reader accepts, with a type the bus can route."""
    message, uncarriable = read_gateway_frame(raw)
    if message is None:
        return
    assert isinstance(message, dict)
    assert (uncarriable is None) == (read_json_object(raw)[0] is not None)
    t = message.get("t")
    if message.get("op") != 0 or not isinstance(t, str) or not t or uncarriable or detail_type_problem(t):
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


# --- the relay refuses what the HTTP ingress refuses ------------------------------------------

ONEBOT_EVENTS = [load_json(p) for p in sorted(SAMPLES.glob("onebot/*.json"))]
TYPE_FIELDS = ("message_type", "notice_type", "request_type", "meta_event_type")


@st.composite
def carried_frames(draw: st.DrawFn) -> bytes:
    """A real OneBot event (its bot: ``SELF``) with one value or type from the ingress's cases."""
    payload = copy.deepcopy(draw(st.sampled_from(ONEBOT_EVENTS)))
    payload["self_id"] = int(SELF)
    what = draw(st.sampled_from(["value", "depth", "type", "none"]))
    if what == "type":
        field = draw(st.sampled_from(["post_type", *[f for f in TYPE_FIELDS if f in payload]]))
        payload[field] = draw(st.sampled_from(TYPES))[0] + draw(st.sampled_from(["", ".x"]))
    raw = None
    if what in ("value", "depth"):
        container = payload
        for _ in range(draw(st.integers(0, 2))):
            container[draw(st.sampled_from(["data", "extra"]))] = container = {}
        container[draw(any_text)] = MARK
        depth = draw(st.sampled_from(DEPTHS))
        raw = draw(st.sampled_from(INJECTIONS))[0] if what == "value" else nested(depth)
    body = as_frame(payload, draw(st.booleans())).encode("utf-8", "surrogatepass")
    return body if raw is None else body.replace(MARK_JSON, raw)


class Accepting(Publisher):
    """A bus that takes everything: what the ingress would have put on it."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put(self, entries: Any) -> list[Failed]:
        self.entries.extend(entries)
        return []


@pytest.fixture(scope="module")
def ingress() -> Iterator[Accepting]:
    """``onebot_http`` without a secret, on a bus that takes everything."""
    bus = Accepting()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingress_bus, "publisher", lambda: bus)
        patch.setenv("EVENT_BUS_NAME", "qqbus-fuzz")
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        for name in ("ONEBOT_SECRET", "ONEBOT_SECRET_PARAMETER", "QQBUS_PUBLISH_HEARTBEATS"):
            patch.delenv(name, raising=False)
        yield bus


def ingress_answer(ingress: Accepting, body: bytes) -> tuple[int, dict[str, Any] | None]:
    """The status ``onebot_http`` answers ``body`` with, and the entry it published (if any)."""
    ingress.entries.clear()
    request = Request("POST", "/", {"x-self-id": SELF, "content-type": "application/json"}, body)
    status = onebot_http.handle(request).status
    return status, (ingress.entries[0] if ingress.entries else None)


def assert_same_door(ingress: Accepting, body: bytes) -> Frame:
    status, published = ingress_answer(ingress, body)
    frame = read_frame(body, self_id=SELF, transport="reverse_ws", config=CONFIG)
    relayed = frame.kind in ("event", "heartbeat")
    assert relayed == (status == 204), (status, frame, body[:300])
    if frame.kind == "event":
        assert frame.entry is not None and published is not None
        assert frame.entry["DetailType"] == published["DetailType"]
        ours, theirs = json.loads(frame.entry["Detail"]), json.loads(published["Detail"])
        assert ours["payload"] == theirs["payload"] and ours["event_id"] == theirs["event_id"]
    if status == 400 and "post_type" in (read_json_object(body)[0] or {}):
        assert frame.entry is None and frame.kind in ("refused", "ignored"), frame
    return frame


@FUZZ
@given(body=carried_frames())
def test_onebot_frames_are_refused_where_http_ingress_refuses_them(ingress: Accepting, body: bytes) -> None:
    assert_same_door(ingress, body)


@pytest.mark.parametrize("raw, ok", INJECTIONS, ids=[r[:24].decode() for r, _ in INJECTIONS])
def test_a_number_the_bus_cannot_carry_is_refused_as_ingress_refuses_it(
    ingress: Accepting, raw: bytes, ok: bool
) -> None:
    event = copy.deepcopy(ONEBOT_EVENTS[0]) | {"self_id": int(SELF), "extra": {"x": MARK}}
    body = json.dumps(event).encode().replace(MARK_JSON, raw)
    frame = assert_same_door(ingress, body)
    assert (frame.entry is not None) == ok
    if not ok:
        assert frame.kind == "refused" and frame.problem == read_json_object(body)[1]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, 5_000])
def test_nesting_past_the_cap_is_refused_as_ingress_refuses_it(ingress: Accepting, depth: int) -> None:
    event = copy.deepcopy(ONEBOT_EVENTS[0]) | {"self_id": int(SELF), "x": MARK}
    frame = assert_same_door(ingress, json.dumps(event).encode().replace(MARK_JSON, nested(depth)))
    assert (frame.kind == "refused") == (1 + depth > MAX_JSON_DEPTH)


@pytest.mark.parametrize("value, ok", TYPES, ids=[repr(t)[:20] for t, _ in TYPES])
def test_a_type_the_bus_cannot_route_is_refused_as_ingress_refuses_it(
    ingress: Accepting, value: str, ok: bool
) -> None:
    alone = {"time": 1718000000, "self_id": int(SELF), "post_type": value}  # the detail-type is value
    frame = assert_same_door(ingress, json.dumps(alone).encode())
    assert frame.kind == ("event" if ok else "refused")
    assert (frame.entry is not None and frame.entry["DetailType"]) == (ok and value)
    dotted = copy.deepcopy(ONEBOT_EVENTS[0]) | {"self_id": int(SELF), "notice_type": value}
    frame = assert_same_door(ingress, json.dumps(dotted).encode())
    if not ok:
        assert frame.kind == "refused"


async def _relay_one(frame: bytes, tmp_path: Path) -> tuple[OneBotRelay, RelayPublisher]:
    with mock_aws():
        publisher = RelayPublisher(EventBridgePublisher(), tmp_path / "spool")
        relay = OneBotRelay(CONFIG, publisher)
        await relay.frame(frame, self_id=SELF, transport="reverse_ws")
        return relay, publisher


def test_a_refused_frame_is_counted_and_never_queued(tmp_path: Path) -> None:
    event = copy.deepcopy(ONEBOT_EVENTS[0]) | {"self_id": int(SELF), "x": MARK}
    frame = json.dumps(event).encode().replace(MARK_JSON, b"NaN")
    relay, publisher = asyncio.run(_relay_one(frame, tmp_path))
    assert (relay.stats.refused_frames, relay.stats.published) == (1, 0)
    assert publisher.stats.submitted == 0 and publisher.queue_depth == 0 and publisher.spool.pending == 0
