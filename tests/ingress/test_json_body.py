"""The one JSON reader of ingress: lone surrogates kept, depth capped, only numbers the bus can carry."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qqbus.detail import build_entry, json_text
from qqbus.ingress.function_url import function_url_event
from qqbus.json_body import MAX_JSON_DEPTH, nesting_exceeds, read_json_object
from qqbus.publish import entry_size

from tests.ingress.conftest import ONEBOT_SECRET, QQ_APPID, Bus, Call, LogTap, post, signed

CUT_EMOJI = b'"\\ud83d"'  # what JS-based implementations send when they cut an emoji in half


def _qq_body(content: bytes) -> bytes:
    return b'{"op":0,"t":"GROUP_AT_MESSAGE_CREATE","id":"AT:1","d":{"content":' + content + b"}}"


def _onebot_body(content: bytes, *, self_id: int = 123456789) -> bytes:
    head = f'{{"time":{int(time.time())},"self_id":{self_id},"post_type":"message","message_type":"group",'
    return (head + '"sub_type":"normal","group_id":1,"user_id":2,"message":').encode() + content + b"}"


# --- lone surrogates: accepted and published as received -------------------------------------


def test_qq_lone_surrogate_is_published_as_received(qq_webhook: Call, bus: Bus) -> None:
    body = _qq_body(b'"ok \\ud83d"')
    resp = qq_webhook(signed(body))
    assert resp["statusCode"] == 200, resp["body"]
    (event,) = bus.published()
    assert event["detail"]["payload"]["d"]["content"] == "ok \ud83d"
    assert event["detail"]["payload"] == json.loads(body)


def test_onebot_lone_surrogate_is_published_as_received(
    onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEBOT_SECRET", ONEBOT_SECRET)
    body = _onebot_body(b'"\\ude00 and \\ud83d"')
    resp = onebot_http(post(None, raw=body, secret=ONEBOT_SECRET))
    assert resp["statusCode"] == 204, resp["body"]
    (event,) = bus.published()
    assert event["detail"]["payload"]["message"] == "\ude00 and \ud83d"


def test_a_surrogate_in_the_event_id_is_published_and_logged(
    qq_webhook: Call, bus: Bus, strict_logging: LogTap
) -> None:
    # Found by the long fuzz profile: the id went into a log line that stdout could not write.
    body = b'{"op":0,"t":"GROUP_AT_MESSAGE_CREATE","id":"AT:\\ud83d","d":{}}'
    assert qq_webhook(signed(body))["statusCode"] == 200
    (event,) = bus.published()
    assert event["detail"]["event_id"] == "AT:\ud83d"
    assert any('"event_id":"AT:\\\\ud83d"' in line for line in strict_logging.lines())


def test_the_entry_writes_a_surrogate_back_as_its_escape() -> None:
    entry = build_entry(source="s", detail_type="t", detail={"text": "a\ud83db"}, bus_name="b")
    assert entry["Detail"] == '{"text":"a\\ud83db"}'
    assert json.loads(entry["Detail"]) == {"text": "a\ud83db"}
    assert entry_size(entry) == 14 + 1 + 1 + len(entry["Detail"])
    assert json_text({"k": "中文\\"}) == '{"k":"中文\\\\"}'  # other text unchanged, compact


@pytest.mark.parametrize(
    "endpoint, body, why",
    [
        ("qq", b'{"op":0,"t":"\\ud83d","id":"AT:1","d":{}}', "not valid Unicode"),
        ("onebot", _onebot_body(b'"x"').replace(b'"group"', b'"\\ud83d"'), "not valid Unicode"),
        ("onebot", _onebot_body(b'"x"').replace(b'"time"', b'"\\ud83d":1,"time"'), "valid string"),
    ],
    ids=["qq type", "onebot type", "onebot field name"],
)
def test_a_lone_surrogate_in_a_type_or_field_name_is_refused(
    qq_webhook: Call, onebot_http: Call, bus: Bus, endpoint: str, body: bytes, why: str
) -> None:
    resp = qq_webhook(signed(body)) if endpoint == "qq" else onebot_http(post(None, raw=body))
    assert resp["statusCode"] == 400
    assert why in json.loads(resp["body"])["error"]
    assert bus.published() == []


def test_a_surrogate_in_headers_does_not_break_the_answer_or_the_log(qq_webhook: Call, bus: Bus) -> None:
    resp = qq_webhook(signed(_qq_body(b'"x"'), appid="\ud83d"))
    assert resp["statusCode"] == 401
    assert json.loads(resp["body"].encode("utf-8"))["error"] == "no secret is configured for this AppID"


# --- nesting -----------------------------------------------------------------------------------


def test_deep_nesting_is_400_before_any_signature_check(
    qq_webhook: Call, onebot_http: Call, bus: Bus
) -> None:
    deep = b"[" * 20000
    unsigned = qq_webhook(function_url_event(deep, {"X-Bot-Appid": QQ_APPID}))
    assert unsigned["statusCode"] == 400
    assert "more than 64 levels" in json.loads(unsigned["body"])["error"]
    assert qq_webhook(signed(deep))["statusCode"] == 400
    assert onebot_http(post(None, raw=deep))["statusCode"] == 400
    assert onebot_http(post(None, raw=b'{"a":' + b"{" * 20000))["statusCode"] == 400
    assert bus.published() == []


def test_nesting_up_to_the_cap_is_accepted(qq_webhook: Call, bus: Bus) -> None:
    # The envelope and d are two levels, so MAX_JSON_DEPTH - 2 arrays reach the cap exactly.
    at_cap = MAX_JSON_DEPTH - 2
    assert qq_webhook(signed(_qq_body(b"[" * at_cap + b"]" * at_cap)))["statusCode"] == 200
    over = at_cap + 1
    assert qq_webhook(signed(_qq_body(b"[" * over + b"]" * over)))["statusCode"] == 400
    assert len(bus.published()) == 1


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 500 + '\\"{' * 100, "b": ["]" * 10]})
    assert not nesting_exceeds(text)
    assert read_json_object(text.encode())[0] is not None


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


tricky_text = st.text(st.sampled_from('[]{}"\\ aé\x00'), max_size=8)
nested_json = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(value=nested_json, indent=st.sampled_from([None, 1]), ascii_only=st.booleans())
def test_the_depth_scan_agrees_with_the_parse(value: Any, indent: int | None, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    depth = _depth(value)
    for limit in range(max(depth - 2, 0), depth + 2):
        assert nesting_exceeds(text, limit) == (depth > limit), (limit, text)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200) | st.text(st.sampled_from('[]{}"\\:,0 '), max_size=200).map(str.encode))
def test_the_reader_never_raises(body: bytes) -> None:
    data, problem = read_json_object(body)
    assert (data is None) != (problem is None)


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token, why",
    [
        (b"NaN", "NaN"),
        (b"Infinity", "Infinity"),
        (b"-Infinity", "-Infinity"),
        (b"1e999", "overflows to infinity"),
        (b"-1e400", "overflows to infinity"),
        (b"9223372036854775808", "64-bit"),
        (b"-9223372036854775809", "64-bit"),
        (b"1" * 5000, "64-bit"),
    ],
)
def test_numbers_the_bus_cannot_carry_are_400(
    qq_webhook: Call, onebot_http: Call, bus: Bus, token: bytes, why: str
) -> None:
    for resp in (qq_webhook(signed(_qq_body(token))), onebot_http(post(None, raw=_onebot_body(token)))):
        assert resp["statusCode"] == 400
        assert why in json.loads(resp["body"])["error"]
    assert bus.published() == []


def test_numbers_at_the_bounds_are_kept(onebot_http: Call, bus: Bus) -> None:
    body = _onebot_body(b"[9223372036854775807,-9223372036854775808,1e308,-1e-400,0.5]")
    assert onebot_http(post(None, raw=body))["statusCode"] == 204
    (event,) = bus.published()
    assert event["detail"]["payload"]["message"] == [2**63 - 1, -(2**63), 1e308, -0.0, 0.5]


def test_text_reads_as_its_utf8_bytes_do() -> None:
    """The relay may hand the reader a text frame: the same answer as for its bytes."""
    for text in ['{"a":"中\\ud83d","n":[1,2.5]}', "[1]", '{"a":NaN}', "{", "[" * 70 + "]" * 70]:
        assert read_json_object(text) == read_json_object(text.encode("utf-8")), text
    assert read_json_object('{"a":"中"}') == ({"a": "中"}, None)
