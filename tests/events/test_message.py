"""CQ codes and segments: parse, print, escape, in both directions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from qqbus.events.message import Segment, escape, parse_cq, plain_text, to_cq, to_segments, unescape
from qqbus.events.onebot import GroupMessage


def test_escaped_text_and_params_round_trip() -> None:
    wire = "a&amp;b &#91;x&#93; [CQ:image,file=a&#44;b&#91;1&#93;&amp;.jpg,url=https://x/?a=1&amp;b=2]end"
    segments = parse_cq(wire)
    assert segments == [
        Segment.text("a&b [x] "),
        Segment(type="image", data={"file": "a,b[1]&.jpg", "url": "https://x/?a=1&b=2"}),
        Segment.text("end"),
    ]
    assert to_cq(segments) == wire


def test_comma_is_escaped_only_inside_parameters() -> None:
    segments = [Segment.text("1,2 [ok]"), Segment(type="share", data={"title": "a,b"})]
    assert to_cq(segments) == "1,2 &#91;ok&#93;[CQ:share,title=a&#44;b]"


def test_unescape_restores_ampersand_last() -> None:
    assert unescape("&amp;#91;") == "&#91;"
    assert escape("&#91;") == "&amp;#91;"


def test_array_and_string_forms_normalise_to_the_same_segments() -> None:
    base = {
        "time": 1718000000,
        "self_id": 10,
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "user_id": 2,
        "group_id": 3,
        "raw_message": "",
    }
    as_string = GroupMessage.model_validate(base | {"message": "[CQ:at,qq=10] hi"})
    as_array = GroupMessage.model_validate(
        base | {"message": [{"type": "at", "data": {"qq": "10"}}, {"type": "text", "data": {"text": " hi"}}]}
    )
    assert as_string.message == as_array.message
    assert as_string.plain_text == " hi"


def test_single_segment_object_and_unknown_segment_fields_are_kept() -> None:
    segments = to_segments({"type": "mface", "data": {"emoji_id": "1"}, "extra": True})
    assert segments[0].type == "mface" and segments[0].model_extra == {"extra": True}


def test_plain_text_skips_non_text_segments() -> None:
    assert plain_text(parse_cq("a[CQ:face,id=1]b")) == "ab"


def test_malformed_cq_is_kept_as_text() -> None:
    assert parse_cq("[CQ:at,qq=1") == [Segment.text("[CQ:at,qq=1")]


def test_message_of_wrong_type_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="CQ-code string or a segment array"):
        to_segments(42)


_texts = st.text(min_size=1, max_size=20)
_params = st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.text(max_size=20), max_size=3)
_code = st.builds(
    lambda t, d: Segment(type=t, data=d), st.sampled_from(["at", "image", "face", "reply"]), _params
)


@given(st.lists(st.one_of(_texts.map(Segment.text), _code), max_size=8))
def test_print_then_parse_gives_the_segments_back(segments: list[Segment]) -> None:
    # Adjacent text segments print as one run of text, so compare with those merged.
    merged: list[Segment] = []
    for seg in segments:
        if seg.type == "text" and merged and merged[-1].type == "text":
            merged[-1] = Segment.text(merged[-1].data["text"] + seg.data["text"])
        else:
            merged.append(seg)
    assert parse_cq(to_cq(segments)) == merged


@given(st.text(max_size=40))
def test_escape_unescape_round_trip(text: str) -> None:
    assert unescape(escape(text)) == text
    assert unescape(escape(text, in_param=True)) == text
    assert "," not in escape(text, in_param=True)
