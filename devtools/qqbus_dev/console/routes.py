"""The console's HTTP side, inside the stack's server: the page, its JSON API, its live feed.

``GET /`` is the page; ``/console/static/*`` its styles and script; ``/console/api/*`` JSON;
``/console/events`` Server-Sent Events. The page runs on the developer's machine and can drive
the bot, so other web pages must not: every request needs a ``Host`` that is an IP address,
``localhost`` or the bound host (no DNS rebinding), and a POST needs ``Content-Type:
application/json`` (so a cross-site form cannot send one without a preflight, which is never
granted) and no foreign ``Origin``. Requests are validated into small models; a bad one gets a
4xx naming what was wrong, and a log line in the stack's output.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from qqbus.events.message import Segment
from qqbus.events.registry import error_summary

from qqbus_dev.console.queues import NotFound
from qqbus_dev.console.sandbox import SandboxError

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from qqbus_dev.console.app import Console

STATIC = files("qqbus_dev.console") / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": (
        # A bot's images and media are often URLs of other hosts (QQ fetches them too): shown.
        "default-src 'self'; img-src 'self' data: http: https:; media-src 'self' data: http: https:; "
        "frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "cache-control": "no-store",
}
MAX_BODY = 64 * 1024
#: Seconds an SSE connection waits for news before it checks the relay's bots and the stack.
POLL_S = 2.0
KEEPALIVE_S = 14.0

Protocol = Literal["qq", "onebot"]
Id = Field(min_length=1, max_length=200)
Text = Field(min_length=1, max_length=2000)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddPerson(_Request):
    protocol: Protocol
    name: str = Field(default="", max_length=40)


class AddBot(_Request):
    protocol: Literal["onebot"] = "onebot"
    id: str = Field(pattern=r"^[1-9][0-9]{4,11}$", description="a OneBot self_id (a QQ number)")


class Say(_Request):
    bot: str = Id
    user: str = Id
    group: str | None = Field(default=None, min_length=1, max_length=200)
    text: str = Text
    mention: bool = True


class Notice(_Request):
    bot: str = Id
    group: str = Id
    kind: str = Field(min_length=1, max_length=40)
    user: str = Id
    duration: int = Field(default=600, ge=1, le=30 * 86400, description="seconds (mute)")


class BotPost(_Request):
    bot: str = Id
    group: str | None = Field(default=None, min_length=1, max_length=200)
    user: str | None = Field(default=None, min_length=1, max_length=200)
    text: str | None = Field(default=None, min_length=1, max_length=2000)
    message: list[Segment] | None = Field(
        default=None, min_length=1, max_length=20, description="segments, to see how rich ones look"
    )

    @model_validator(mode="after")
    def _one_place(self) -> BotPost:
        if (self.group is None) == (self.user is None):
            raise ValueError("give exactly one of group and user")
        if (self.text is None) == (self.message is None):
            raise ValueError("give exactly one of text and message")
        return self


class Recall(_Request):
    bot: str = Id
    entry: str = Id


class Click(_Request):
    bot: str = Id
    user: str = Id
    group: str | None = Field(default=None, min_length=1, max_length=200)
    button_id: str = Field(default="", max_length=200)
    data: str = Field(max_length=2000, description="the button's action.data")
    label: str = Field(default="", max_length=200)


class Replay(_Request):
    queue: str = Id
    message_id: str = Id


class Fault(_Request):
    api: str = Field(min_length=1, max_length=20)
    status: int = Field(default=503, ge=400, le=599)
    times: int = Field(default=1, ge=1, le=100)
    kind: Literal["status", "ip_not_whitelisted"] = "status"


class ClearFaults(_Request):
    api: str | None = Field(default=None, min_length=1, max_length=20, description="None: every fake")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def serves(path: str) -> bool:
    return path == "/" or path == "/index.html" or path.startswith("/console/")


def host_allowed(host: str | None, bound: str) -> bool:
    """A ``Host`` header a page served from this machine sends (an IP, localhost, the bound name)."""
    if not host:
        return False
    try:
        name = urlsplit("//" + host).hostname
    except ValueError:
        return False
    if not name:
        return False
    if name in ("localhost", bound.lower()):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_allowed(headers: Any) -> bool:
    """No other site's page: ``Origin`` (when sent) is this server, and the fetch is not cross-site."""
    origin = headers.get("Origin")
    if origin is not None and origin != f"http://{headers.get('Host')}":
        return False
    return headers.get("Sec-Fetch-Site") in (None, "same-origin", "none")


def parse(model: type[_Request], raw: bytes) -> Any:
    """The request body as ``model``.

    Raises
    ------
    HttpError
        400 naming what is wrong: not JSON, not an object, or the fields that do not fit.
    """
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HttpError(400, f"the body must be a JSON object, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise HttpError(400, error_summary(exc)) from exc


#: The request model of each ``POST /console/api/<name>`` (``_actions`` says what each does).
ROUTE_MODELS: dict[str, type[_Request]] = {
    "users": AddPerson,
    "groups": AddPerson,
    "bots": AddBot,
    "say": Say,
    "notice": Notice,
    "post": BotPost,
    "recall": Recall,
    "click": Click,
    "replay": Replay,
    "fault": Fault,
    "fault/clear": ClearFaults,
}


def _actions(console: Console) -> dict[str, Callable[[Any], Any]]:
    """What each POST route does with its validated request."""
    sandbox = console.sandbox
    return {
        "users": lambda r: sandbox.add_person(r.protocol, r.name),
        "groups": lambda r: sandbox.add_group(r.protocol, r.name),
        "bots": lambda r: sandbox.add_bot(r.protocol, r.id),
        "say": lambda r: sandbox.say(r.bot, r.user, r.text, group_id=r.group, mention=r.mention),
        "notice": lambda r: sandbox.notice(r.bot, r.group, r.kind, operator_id=r.user, duration=r.duration),
        "post": lambda r: {
            "event_id": console.bot_posts(
                r.bot, r.text if r.message is None else r.message, group_id=r.group, user_id=r.user
            )
        },
        "recall": lambda r: {"event_id": console.recall(r.bot, r.entry)},
        "click": lambda r: sandbox.click(
            r.bot, r.user, group_id=r.group, button_id=r.button_id, data=r.data, label=r.label or r.data
        ),
        "replay": lambda r: console.replay(r.queue, r.message_id),
        "fault": lambda r: console.fault(r.api, r.status, r.times, r.kind),
        "fault/clear": lambda r: console.clear_faults(r.api),
    }


def handle(console: Console, request: BaseHTTPRequestHandler, method: str) -> None:
    """Answer one console request (the stack's HTTP handler hands it over)."""
    url = urlsplit(request.path)
    try:
        if not host_allowed(request.headers.get("Host"), console.stack.host):
            raise HttpError(403, f"Host {request.headers.get('Host')!r} is not this machine")
        if method == "GET":
            _get(console, request, url.path, dict(parse_qsl(url.query)))
        elif method == "POST":
            _post(console, request, url.path)
        else:
            raise HttpError(405, f"{method} is not served here")
    except HttpError as exc:
        console.stack.say(f"!  console: {method} {url.path} {exc.status}: {exc}")
        _json(request, exc.status, {"error": str(exc)})


def _get(console: Console, request: BaseHTTPRequestHandler, path: str, query: dict[str, str]) -> None:
    if path in ("/", "/index.html"):
        _static(request, "index.html")
    elif path.startswith("/console/static/"):
        _static(request, path.removeprefix("/console/static/"))
    elif path == "/console/events":
        _stream(console, request, query)
    elif path == "/console/api/snapshot":
        _json(request, 200, console.snapshot())
    elif path == "/console/api/state":
        _json(request, 200, console.state())
    elif path == "/console/api/failures":
        _json(request, 200, console.failures())
    elif path == "/console/api/schedules":
        _json(request, 200, console.schedules())
    elif path == "/console/api/data":
        _json(request, 200, console.bot_data())
    elif path.startswith("/console/api/trace/"):
        found = console.event(unquote(path.removeprefix("/console/api/trace/")))
        if found is None:
            raise HttpError(404, "no such event (yet)")
        _json(request, 200, found)
    else:
        raise HttpError(404, f"nothing at {path}")


def _post(console: Console, request: BaseHTTPRequestHandler, path: str) -> None:
    name = path.removeprefix("/console/api/")
    model = ROUTE_MODELS.get(name) if path.startswith("/console/api/") else None
    if model is None:
        raise HttpError(404, f"nothing to POST to at {path}")
    if not origin_allowed(request.headers):
        raise HttpError(403, f"requests from {request.headers.get('Origin')!r} are not accepted")
    if (request.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
        raise HttpError(415, "send the request as Content-Type: application/json")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError as exc:
        raise HttpError(400, "Content-Length is not a number") from exc
    if length > MAX_BODY:
        request.close_connection = True
        raise HttpError(413, f"the body is over {MAX_BODY} bytes")
    body = parse(model, request.rfile.read(length) if length > 0 else b"")
    try:
        result = _actions(console)[name](body)
    except NotFound as exc:
        raise HttpError(404, str(exc)) from exc
    except (SandboxError, ValueError) as exc:
        raise HttpError(400, str(exc)) from exc
    _json(request, 200, _jsonable(result))


def _jsonable(value: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _static(request: BaseHTTPRequestHandler, name: str) -> None:
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    resource = STATIC / name
    if "/" in name or name.startswith(".") or suffix not in CONTENT_TYPES or not resource.is_file():
        raise HttpError(404, f"no static file {name!r}")
    _send(request, 200, resource.read_bytes(), CONTENT_TYPES[suffix])


def _json(request: BaseHTTPRequestHandler, status: int, data: Any) -> None:
    body = json.dumps(data, ensure_ascii=False, default=str).encode()
    _send(request, status, body, "application/json; charset=utf-8")


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    request.send_response(status)
    request.send_header("content-type", content_type)
    for key, value in SECURITY_HEADERS.items():
        request.send_header(key, value)
    request.send_header("content-length", str(len(body)))
    if request.close_connection:
        request.send_header("connection", "close")
    request.end_headers()
    request.wfile.write(body)


def _stream(console: Console, request: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
    """Server-Sent Events: every feed message after the page's last one, until it goes away."""
    try:
        last = int(request.headers.get("Last-Event-ID") or query.get("after") or console.feed.last_id)
    except ValueError as exc:
        raise HttpError(400, "Last-Event-ID / after must be a number") from exc
    request.close_connection = True
    request.send_response(200)
    request.send_header("content-type", "text/event-stream; charset=utf-8")
    request.send_header("cache-control", "no-store")
    request.send_header("x-content-type-options", "nosniff")
    request.send_header("connection", "close")
    request.end_headers()
    idle = 0.0
    try:
        request.wfile.write(b"retry: 1000\n\n")
        request.wfile.flush()
        while not console.feed.closed:
            messages = console.feed.since(last, POLL_S)
            if not messages:
                console.check_bots()
                idle += POLL_S
                if idle >= KEEPALIVE_S:
                    request.wfile.write(b": keepalive\n\n")
                    request.wfile.flush()
                    idle = 0.0
                continue
            chunks = []
            for m in messages:
                data = json.dumps(m.data, ensure_ascii=False, default=str)
                chunks.append(f"id: {m.id}\nevent: {m.kind}\ndata: {data}\n\n")
                last = m.id
            request.wfile.write("".join(chunks).encode())
            request.wfile.flush()
            idle = 0.0
    except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
        return  # the page went away
