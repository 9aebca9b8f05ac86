"""OneBot v11 messages: typed segments, parsed from a CQ-code string or a segment array.

OneBot implementations post ``message`` either as a CQ-code string (go-cqhttp's default,
OneBot-YaYa) or as an array of ``{"type", "data"}`` segments (NapCat, Lagrange). Both become
the same ``list[Segment]`` here; ``to_cq`` prints it back. Escaping follows the OneBot v11
spec: ``&`` ``[`` ``]`` everywhere, and ``,`` too inside a CQ code's parameter values.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "Message",
    "Segment",
    "button",
    "escape",
    "media_file",
    "parse_cq",
    "plain_text",
    "to_cq",
    "to_segments",
    "unescape",
]

# One CQ code: ``[CQ:type,key=value,...]``. Values cannot hold a raw ``,`` or ``]``.
_CQ_CODE = re.compile(r"\[CQ:([^,\[\]]+)((?:,[^,\[\]]*)*)\]")


def escape(text: str, *, in_param: bool = False) -> str:
    """Escape ``text`` for a CQ-code string (``&`` first, so nothing is escaped twice)."""
    text = text.replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;")
    return text.replace(",", "&#44;") if in_param else text


def unescape(text: str) -> str:
    """Undo ``escape`` (``&amp;`` last, so ``&amp;#91;`` stays the literal ``&#91;``)."""
    return text.replace("&#44;", ",").replace("&#91;", "[").replace("&#93;", "]").replace("&amp;", "&")


class Segment(BaseModel):
    """One message segment: ``text``, ``at``, ``face``, ``image``, ``reply``, ... with its data."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    type: str = Field(description="Segment type", examples=["text", "at", "image"])
    data: dict[str, Any] = Field(default_factory=dict, description="Segment parameters")

    @classmethod
    def text(cls, text: str) -> Segment:
        return cls(type="text", data={"text": text})

    @classmethod
    def at(cls, qq: int | str) -> Segment:
        """Mention a member; ``"all"`` mentions everyone."""
        return cls(type="at", data={"qq": str(qq)})

    @classmethod
    def reply(cls, message_id: int | str) -> Segment:
        """Quote a message (OneBot: its message_id; QQ: its id, e.g. ``REFIDX_...``)."""
        return cls(type="reply", data={"id": str(message_id)})

    @classmethod
    def face(cls, face_id: int) -> Segment:
        return cls(type="face", data={"id": str(face_id)})

    @classmethod
    def image(cls, file: str | bytes) -> Segment:
        """An image by URL (``https://...``), as ``base64://...``, or as bytes."""
        return cls(type="image", data={"file": media_file(file)})

    @classmethod
    def video(cls, file: str | bytes) -> Segment:
        return cls(type="video", data={"file": media_file(file)})

    @classmethod
    def record(cls, file: str | bytes) -> Segment:
        """A voice message (QQ: silk audio)."""
        return cls(type="record", data={"file": media_file(file)})

    @classmethod
    def file(cls, file: str | bytes) -> Segment:
        return cls(type="file", data={"file": media_file(file)})

    @classmethod
    def markdown(
        cls,
        content: str | None = None,
        *,
        custom_template_id: str | None = None,
        params: dict[str, list[str] | str] | None = None,
    ) -> Segment:
        """QQ markdown: native ``content``, or a template with its parameters (key -> values)."""
        if custom_template_id is None:
            return cls(type="markdown", data={"content": content or ""})
        data: dict[str, Any] = {"custom_template_id": custom_template_id}
        if params:
            data["params"] = [
                {"key": k, "values": [v] if isinstance(v, str) else list(v)} for k, v in params.items()
            ]
        return cls(type="markdown", data=data)

    @classmethod
    def keyboard(cls, id: str | None = None, *, rows: list[list[dict[str, Any]]] | None = None) -> Segment:
        """QQ keyboard: a template ``id``, or rows of buttons in QQ's own button shape."""
        if id is not None:
            return cls(type="keyboard", data={"id": id})
        return cls(
            type="keyboard", data={"content": {"rows": [{"buttons": list(row)} for row in rows or []]}}
        )

    @classmethod
    def ark(cls, template_id: int, kv: list[dict[str, Any]]) -> Segment:
        """QQ ark (msg_type 3): a template id and its key/values."""
        return cls(type="ark", data={"template_id": template_id, "kv": kv})


def media_file(file: str | bytes) -> str:
    """A media segment's ``file``: a URL or ``base64://`` as given, bytes as ``base64://``."""
    if isinstance(file, bytes):
        return "base64://" + base64.b64encode(file).decode()
    return file


def button(
    label: str,
    data: str,
    *,
    action: int = 1,
    enter: bool | None = None,
    style: int = 1,
    id: str | None = None,
) -> dict[str, Any]:
    """A QQ keyboard button (QQ's shape). ``action``: 0 jump (``data`` is a URL), 1 callback
    (an INTERACTION_CREATE carries ``data``), 2 command (``data`` goes into the input box,
    sent at once with ``enter``). Everyone may click it."""
    act: dict[str, Any] = {
        "type": action,
        "permission": {"type": 2},
        "data": data,
        "unsupport_tips": "this QQ version cannot show buttons",
    }
    if enter is not None:
        act["enter"] = enter
    return {
        "id": id or label,
        "render_data": {"label": label, "visited_label": label, "style": style},
        "action": act,
    }


def _cq_dicts(message: str) -> list[dict[str, Any]]:
    """``{"type", "data"}`` dicts of a CQ-code string: one left-to-right pass over it."""
    segments: list[dict[str, Any]] = []
    pos = 0
    for match in _CQ_CODE.finditer(message):
        if match.start() > pos:
            segments.append({"type": "text", "data": {"text": unescape(message[pos : match.start()])}})
        data: dict[str, Any] = {}
        params = match.group(2)
        if params:
            for param in params[1:].split(","):
                key, sep, value = param.partition("=")
                if key:
                    data[key.strip()] = unescape(value) if sep else ""
        segments.append({"type": match.group(1).strip(), "data": data})
        pos = match.end()
    if pos < len(message):
        segments.append({"type": "text", "data": {"text": unescape(message[pos:])}})
    return segments


def parse_cq(message: str) -> list[Segment]:
    """Split a CQ-code string into segments, unescaping text and parameter values."""
    return [Segment.model_validate(d) for d in _cq_dicts(message)]


def _param(value: Any) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    return escape(str(value), in_param=True)


def to_cq(segments: Iterable[Segment]) -> str:
    """Print segments as a CQ-code string (the inverse of ``parse_cq``)."""
    out: list[str] = []
    for seg in segments:
        if seg.type == "text":
            out.append(escape(str(seg.data.get("text", ""))))
        else:
            params = "".join(f",{k}={_param(v)}" for k, v in seg.data.items() if v is not None)
            out.append(f"[CQ:{seg.type}{params}]")
    return "".join(out)


def to_segments(value: Any) -> list[Segment]:
    """Normalise a wire ``message`` (CQ string, segment array or one segment) to segments."""
    return [s if isinstance(s, Segment) else Segment.model_validate(s) for s in _wire_message(value)]


def _wire_message(value: Any) -> list[Any]:
    """A wire ``message`` as a list pydantic validates as ``list[Segment]`` (no double work)."""
    if value is None:
        return []
    if isinstance(value, str):
        return _cq_dicts(value)
    if isinstance(value, dict | Segment):
        return [value]
    if isinstance(value, list):
        return value
    raise ValueError(f"message must be a CQ-code string or a segment array, got {type(value).__name__}")


def plain_text(segments: Iterable[Segment]) -> str:
    """The text segments joined, with every other segment left out."""
    return "".join(str(s.data.get("text", "")) for s in segments if s.type == "text")


#: A message field: accepts a CQ-code string or a segment array, holds ``list[Segment]``.
Message = Annotated[list[Segment], BeforeValidator(_wire_message)]
