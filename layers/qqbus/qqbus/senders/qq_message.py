"""Segments as a QQ group / C2C message body: what QQ can carry, checked before anything is sent.

One message is one of (DESIGN "Rich messages and interactions"; the shapes nonebot-adapter-qq
and botpy send):

- text and @-mentions: ``msg_type`` 0, ``content``;
- text (optional) with one medium (``image`` / ``video`` / ``record`` / ``file``): ``msg_type`` 7,
  ``media: {file_info}`` from an upload first (``file_type`` 1/2/3/4, by ``url`` or ``file_data``;
  bytes over 10 MiB by QQ's multi-part upload, ``qqbus.senders.qq_media.upload_in_parts``);
- ``markdown`` (native ``content`` or ``custom_template_id`` + ``params``) and/or ``keyboard``
  (a template ``id`` or ``content.rows``): ``msg_type`` 2;
- ``ark`` (``template_id`` + ``kv``): ``msg_type`` 3;

each optionally quoting a message (``reply`` -> ``message_reference``). Anything else is refused
before a request is made (``UnsupportedMessage``, reason ``unsupported_message``; a segment whose
data is malformed: ``invalid_message``), naming the segment: nothing is converted unless the
conversion is exact, and nothing is sent half-built.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from qqbus.events.message import Segment

#: QQ's ``file_type`` of each media segment.
FILE_TYPES = {"image": 1, "video": 2, "record": 3, "file": 4}
#: Largest ``base64://`` medium sent in one ``/files`` request (``file_data``). Larger bytes go by
#: QQ's multi-part upload (``upload_prepare`` -> PUT each part to its presigned URL ->
#: ``upload_part_finish`` -> ``/files`` with the ``upload_id``), above the same threshold as
#: nonebot-adapter-qq (``len(data) > 10 * 1024 * 1024``). Through the bus an action's bytes stay far
#: below it (an entry holds 256 KB, 1 MB since 2026-01): large media are best sent by URL.
MAX_FILE_DATA_BYTES = 10 * 1024 * 1024
#: The name a multi-part upload gives bytes whose segment names none (``data.name``), as
#: nonebot-adapter-qq does.
DEFAULT_FILE_NAME = "default"
#: QQ keyboards: at most 5 rows of at most 5 buttons.
MAX_ROWS = 5
MAX_BUTTONS = 5
#: QQ reads these in ``content`` as markup (mentions, @everyone, emoji): text must not make them.
_MARKUP = re.compile(r"<(?=qqbot-|@|emoji:|faceType)", re.IGNORECASE)


class UnsupportedMessage(ValueError):
    """The message holds something QQ cannot send (``reason``: ``unsupported_message`` or
    ``invalid_message``)."""

    def __init__(self, message: str, reason: str = "unsupported_message") -> None:
        super().__init__(message)
        self.reason = reason


def _invalid(index: int, seg: Segment, why: str) -> UnsupportedMessage:
    return UnsupportedMessage(f"segment {index} ({seg.type}): {why}", "invalid_message")


@dataclass(frozen=True)
class Media:
    """A medium to upload before the message: its ``file_type`` and its ``url`` or ``file_data``
    (with the bytes' ``size`` and ``file_name``, which a multi-part upload declares)."""

    file_type: int
    url: str | None = None
    file_data: str | None = None  # base64
    size: int = 0
    file_name: str = DEFAULT_FILE_NAME

    @property
    def in_parts(self) -> bool:
        """Whether these are bytes for QQ's multi-part upload (over ``MAX_FILE_DATA_BYTES``)."""
        return self.file_data is not None and self.size > MAX_FILE_DATA_BYTES

    def upload_body(self) -> dict[str, Any]:
        """The ``/files`` body; for a multi-part upload, what it starts from (type, name, bytes)."""
        if self.in_parts:
            return {"file_type": self.file_type, "file_name": self.file_name, "file_data": self.file_data}
        body: dict[str, Any] = {"file_type": self.file_type}
        if self.url is not None:
            body["url"] = self.url
        else:
            body["file_data"] = self.file_data
        body["srv_send_msg"] = False
        return body

    @property
    def digest(self) -> str:
        """What identifies the upload: the file type and a hash of the URL or of the bytes (and,
        for a multi-part upload, of the name it declares)."""
        what = self.url if self.url is not None else self.file_data or ""
        if self.in_parts:
            what = f"{self.file_name}\x1f{what}"
        return f"{self.file_type}:" + hashlib.sha256(what.encode()).hexdigest()


@dataclass
class QqMessage:
    """A rendered message: the body without its reply fields (msg_id / event_id, msg_seq)."""

    body: dict[str, Any] = field(default_factory=dict)
    media: Media | None = None

    @property
    def content(self) -> str:
        return str(self.body.get("content", ""))


def inert(text: str) -> str:
    """Text as text: a ``<`` that would open QQ markup gets a zero-width space after it, so a
    user's words echoed back (``/echo <qqbot-at-everyone />``) cannot mention everyone."""
    return _MARKUP.sub("<\u200b", text)


def _media(index: int, seg: Segment) -> Media:
    file = str(seg.data.get("url") or seg.data.get("file") or "")
    file_type = FILE_TYPES[seg.type]
    if file.startswith(("http://", "https://")):
        return Media(file_type, url=file)
    if file.startswith("base64://"):
        data = file.removeprefix("base64://")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(index, seg, "base64:// data that is not base64") from None
        if not raw:
            raise _invalid(index, seg, "empty base64:// data")
        name = seg.data.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise _invalid(index, seg, "name, when given, is the file's name (a non-empty string)")
        return Media(file_type, file_data=data, size=len(raw), file_name=name or DEFAULT_FILE_NAME)
    raise _invalid(index, seg, "a QQ medium is an http(s) URL or base64:// data")


def _markdown(index: int, seg: Segment) -> dict[str, Any]:
    data = seg.data
    if isinstance(data.get("content"), str) and data["content"].strip():
        return {"content": data["content"]}
    template = data.get("custom_template_id")
    if not isinstance(template, str) or not template:
        raise _invalid(index, seg, "needs content, or custom_template_id with params")
    out: dict[str, Any] = {"custom_template_id": template}
    params = data.get("params")
    if params is not None:
        if not isinstance(params, list) or not all(
            isinstance(p, dict)
            and isinstance(p.get("key"), str)
            and isinstance(p.get("values"), list)
            and all(isinstance(v, str) for v in p["values"])
            for p in params
        ):
            raise _invalid(index, seg, 'params is a list of {"key": str, "values": [str, ...]}')
        out["params"] = [{"key": p["key"], "values": list(p["values"])} for p in params]
    return out


def _button_problem(button: Any) -> str | None:
    if not isinstance(button, dict):
        return "a button is an object"
    render = button.get("render_data")
    if not isinstance(render, dict) or not isinstance(render.get("label"), str) or not render["label"]:
        return "a button needs render_data.label"
    action = button.get("action")
    if not isinstance(action, dict) or action.get("type") not in (0, 1, 2):
        return "a button needs action.type 0 (jump), 1 (callback) or 2 (command)"
    if not isinstance(action.get("data"), str):
        return "a button needs action.data (a string)"
    permission = action.get("permission")
    if not isinstance(permission, dict) or permission.get("type") not in (0, 1, 2, 3):
        return "a button needs action.permission.type 0-3"
    return None


def _keyboard(index: int, seg: Segment) -> dict[str, Any]:
    data = seg.data
    if isinstance(data.get("id"), str) and data["id"]:
        return {"id": data["id"]}
    content = data.get("content")
    rows = content.get("rows") if isinstance(content, dict) else None
    if not isinstance(rows, list) or not rows:
        raise _invalid(index, seg, "needs a template id, or content.rows of buttons")
    if len(rows) > MAX_ROWS:
        raise _invalid(index, seg, f"at most {MAX_ROWS} rows")
    for row in rows:
        buttons = row.get("buttons") if isinstance(row, dict) else None
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
            raise _invalid(index, seg, f"each row has 1 to {MAX_BUTTONS} buttons")
        for b in buttons:
            if problem := _button_problem(b):
                raise _invalid(index, seg, problem)
    return {"content": {"rows": rows}}


def _ark(index: int, seg: Segment) -> dict[str, Any]:
    template = seg.data.get("template_id")
    if isinstance(template, str) and template.isdigit():
        template = int(template)  # exact: QQ's template ids are integers
    if not isinstance(template, int) or isinstance(template, bool):
        raise _invalid(index, seg, "needs an integer template_id")
    kv = seg.data.get("kv", [])
    if not isinstance(kv, list) or not all(isinstance(k, dict) and isinstance(k.get("key"), str) for k in kv):
        raise _invalid(index, seg, 'kv is a list of {"key", "value" | "obj"}')
    return {"template_id": template, "kv": kv}


def render_message(segments: list[Segment]) -> QqMessage:
    """The QQ message ``segments`` make (see the module docstring).

    Raises
    ------
    UnsupportedMessage
        A segment QQ cannot carry, a combination it cannot send as one message, or bad data.
    """
    content: list[str] = []
    out = QqMessage()
    rich: dict[str, tuple[int, Segment]] = {}  # markdown / keyboard / ark / media -> first seen

    def once(kind: str, index: int, seg: Segment) -> None:
        if kind in rich:
            raise UnsupportedMessage(f"segment {index} ({seg.type}): a QQ message carries one {kind}")
        rich[kind] = (index, seg)

    for index, seg in enumerate(segments):
        if seg.type == "text":
            content.append(inert(str(seg.data.get("text", ""))))
        elif seg.type == "at":
            qq = str(seg.data.get("qq", ""))
            if not qq or qq == "all":
                raise UnsupportedMessage(
                    f"segment {index} (at): QQ bots mention a member by openid; @everyone is not theirs"
                )
            content.append(f'<qqbot-at-user id="{qq}" />')
        elif seg.type in FILE_TYPES:
            once("medium", index, seg)
            out.media = _media(index, seg)
        elif seg.type == "markdown":
            once("markdown", index, seg)
            out.body["markdown"] = _markdown(index, seg)
        elif seg.type == "keyboard":
            once("keyboard", index, seg)
            out.body["keyboard"] = _keyboard(index, seg)
        elif seg.type == "ark":
            once("ark", index, seg)
            out.body["ark"] = _ark(index, seg)
        elif seg.type == "reply":
            once("quote", index, seg)
            message_id = seg.data.get("id")
            if message_id is None or not str(message_id):
                raise _invalid(index, seg, "needs the id of the message quoted")
            out.body["message_reference"] = {"message_id": str(message_id)}
        else:
            raise UnsupportedMessage(f"segment {index} ({seg.type}): QQ messages cannot carry a {seg.type!r}")
    text = "".join(content)
    kinds = set(rich) - {"quote"}
    if "ark" in kinds and kinds != {"ark"}:
        raise UnsupportedMessage("an ark is a message of its own on QQ: send the rest separately")
    if kinds & {"markdown", "keyboard"}:
        if "medium" in kinds:
            raise UnsupportedMessage("a QQ markdown / keyboard message cannot carry a medium")
        if text.strip():
            raise UnsupportedMessage(
                "a QQ markdown message carries its text in the markdown: put the text (and"
                ' <qqbot-at-user id="..." /> mentions) there'
            )
        out.body["msg_type"] = 2
    elif "ark" in kinds:
        if text.strip():
            raise UnsupportedMessage("a QQ ark message carries no text: send it separately")
        out.body["msg_type"] = 3
    elif "medium" in kinds:
        out.body = {"content": text or " ", "msg_type": 7, **out.body}
    elif text.strip():
        out.body = {"content": text, "msg_type": 0, **out.body}
    return out
