"""Fake platform APIs on 127.0.0.1 for ``make dev`` and the tests: the QQ OpenAPI and a OneBot HTTP API.

They answer as the real ones do where qqbus depends on it, and keep what they were sent:

- QQ: ``POST /app/getAppAccessToken`` issues tokens (``expires_in`` as a string);
  ``POST /v2/groups/{id}/messages`` and ``/v2/users/{id}/messages`` need ``Authorization: QQBot
  <a live token>`` (else 401) and ``X-Union-Appid``, refuse a repeated (msg_id | event_id,
  msg_seq) with code 40054005, and answer ``{"id", "timestamp"}``; a body must fit its
  ``msg_type`` (0 content, 2 markdown | keyboard, 3 ark, 7 a ``media.file_info`` this fake
  issued) or it is refused with 400. ``/files`` checks ``file_type`` 1-4 and exactly one of
  ``url`` / base64 ``file_data``, and gives a ``file_info`` with a ``ttl``. The multi-part upload
  as nonebot-adapter-qq drives it: ``.../upload_prepare`` (file_type, file_name, file_size, md5,
  sha1, md5_10m) answers an ``upload_id``, a ``block_size`` (``part_size``) and a presigned URL
  per part (on this server, ``/_cos/...?sign=``; no token there); each part PUT there, then
  ``.../upload_part_finish`` (its index, length and MD5 must match what was PUT); ``/files``
  ``{upload_id}`` checks the whole file against the prepare (size, md5, sha1, md5_10m) and
  gives its ``file_info``. ``DELETE .../messages/{id}`` recalls a message it sent; ``PUT
  /interactions/{id}`` acknowledges.
- OneBot: ``POST /<action>`` with ``Authorization: Bearer <token>`` when a token is set (401
  without, 403 wrong), answered ``{"status": "ok", "retcode": 0, "data": ...}``.

``fail_next(status, body, headers)`` makes the next request(s) answer a fault (429 with
``Retry-After``, 5xx, ...), for the retry tests; ``clear_faults()`` forgets those not answered
yet. ``FakeQQApi.whitelist`` (a set of addresses) makes the OpenAPI refuse every other caller
as QQ does, with 401 and code 11298 (``IP_NOT_WHITELISTED``); the token endpoint has no whitelist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

#: QQ's answer to a msg_seq already used for the same message or event.
DUPLICATE = {"code": 40054005, "message": "消息被去重，请检查请求msgseq"}
#: QQ's answer (HTTP 401) to a caller whose address is not on the bot's IP whitelist.
IP_NOT_WHITELISTED = {"message": "接口访问源IP不在白名单", "code": 11298, "err_code": 40023002}
#: Faults by name, for ``POST /_fakes/<name>/fail {"fault": ...}`` and the console.
NAMED_FAULTS: dict[str, tuple[int, Any]] = {"ip_not_whitelisted": (401, IP_NOT_WHITELISTED)}


@dataclass
class Fault:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    """One request a fake API answered (faults included)."""

    path: str
    headers: dict[str, str]
    body: Any
    status: int
    answer: Any
    at: float = field(default_factory=time.time)
    method: str = "POST"


class FakeApi:
    """An HTTP server on a thread; subclasses implement ``answer(path, headers, body)``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[Received] = []
        self.listeners: list[Callable[[Received], None]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self._answer("POST")

            def do_PUT(self) -> None:
                self._answer("PUT")

            def do_DELETE(self) -> None:
                self._answer("DELETE")

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw  # not JSON: the bytes (a part PUT to a presigned URL)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, extra = fake._handle(self.path, headers, body, self.client_address[0], method)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name=type(self).__name__
        )

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` requests (token requests excepted) with this fault."""
        with self._lock:
            self._faults.extend(Fault(status, body, headers or {}) for _ in range(times))

    def clear_faults(self) -> int:
        """Forget the faults not answered yet (``fail_next``, ``inject``); how many there were."""
        with self._lock:
            cleared, self._faults = len(self._faults), []
        return cleared

    @property
    def pending_faults(self) -> int:
        """How many of the next requests still answer an injected fault."""
        with self._lock:
            return len(self._faults)

    def inject(self, fault: str, times: int = 1) -> int:
        """Answer the next ``times`` requests with the named fault (``NAMED_FAULTS``); its status.

        Raises
        ------
        KeyError
            No fault of that name.
        """
        status, body = NAMED_FAULTS[fault]
        self.fail_next(status, body, times=times)
        return status

    def _handle(
        self, path: str, headers: dict[str, str], body: Any, client: str = "127.0.0.1", method: str = "POST"
    ) -> tuple[int, Any, dict[str, str]]:
        fault = None
        with self._lock:
            if self._faults and not self.is_token_request(path):
                fault = self._faults.pop(0)
        if fault is None:
            fault = self.refusal(path, client)
        if fault is not None:
            status, answer, extra = fault.status, fault.body if fault.body is not None else {}, fault.headers
        else:
            status, answer = self.answer_method(method, path, headers, body)
            extra = {}
        logged = (
            {"bytes": len(body), "md5": hashlib.md5(body).hexdigest()} if isinstance(body, bytes) else body
        )
        received = Received(path, headers, logged, status, answer, method=method)
        with self._lock:
            self.received.append(received)
        for listener in list(self.listeners):
            listener(received)
        return status, answer, extra

    def is_token_request(self, path: str) -> bool:
        return False

    def refusal(self, path: str, client: str) -> Fault | None:
        """A standing refusal of this caller (the QQ IP whitelist), or None."""
        return None

    def answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def answer_method(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        """The answer to a request of any method (POST goes to ``answer``; others: 405)."""
        if method == "POST":
            return self.answer(path, headers, body)
        return 405, {"code": 405, "message": f"{method} not allowed"}


_MESSAGES = re.compile(r"^/v2/(groups|users)/([^/]+)/(messages|files|upload_prepare|upload_part_finish)$")
#: Where the fake's presigned part URLs point (storage, not the OpenAPI).
_PART = re.compile(r"^/_cos/([^/?]+)/(\d+)\?sign=([^&]+)$")
#: nonebot-adapter-qq's ``md5_10m``: the MD5 of the file's first 10 MiB.
MD5_10M_BYTES = 10 * 1024 * 1024
_MESSAGE = re.compile(r"^/v2/(groups|users)/([^/]+)/messages/([^/]+)$")
_INTERACTION = re.compile(r"^/interactions/([^/]+)$")
#: What QQ answers a body that does not fit its msg_type (the fake's wording).
BAD_BODY = 40034006
#: The fake's code for a multi-part upload step that does not fit what came before.
BAD_UPLOAD = 850020


@dataclass
class PartUpload:
    """A multi-part upload under way: its chat, its ``upload_prepare`` body, and the parts."""

    chat: tuple[str, str]
    prepare: dict[str, Any]
    sign: str
    indexes: list[int]
    put: dict[int, bytes] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)


class FakeQQApi(FakeApi):
    """The QQ OpenAPI and its token endpoint (``token_url``) in one server."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, secrets: Callable[[str], str | None] | None = None
    ) -> None:
        super().__init__(host, port)
        self.secrets = secrets  # app id -> its secret; None accepts any
        self.whitelist: set[str] | None = None  # addresses the OpenAPI answers; None: any
        self.expires_in = 7200
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (app id, expiry)
        self.token_requests = 0
        self._seen: set[tuple[str, str, str, int]] = set()
        self._ids = itertools.count(1)
        self.file_ttl = 3600
        self.issued: dict[str, dict[str, Any]] = {}  # file_info -> the upload body
        self.part_size = 4 * 1024 * 1024  # block_size of a multi-part upload
        self.part_uploads: dict[str, PartUpload] = {}  # upload_id -> its state
        self.sent_ids: dict[str, tuple[str, str]] = {}  # message id -> (groups|users, openid)

    @property
    def token_url(self) -> str:
        return self.url + "/app/getAppAccessToken"

    def expire_tokens(self) -> None:
        """Make every issued token stale (the API then answers 401)."""
        self.tokens.clear()

    def messages(self) -> list[Received]:
        """The message requests that were accepted (2xx)."""
        return [
            r for r in self.received if r.method == "POST" and r.path.endswith("/messages") and r.status < 300
        ]

    def uploads(self) -> list[Received]:
        """The media uploads that were accepted (2xx)."""
        return [r for r in self.received if r.path.endswith("/files") and r.status < 300]

    def upload_steps(self) -> list[Received]:
        """The accepted steps of multi-part uploads: ``upload_prepare``, part PUTs (body: their
        ``bytes`` and ``md5``), ``upload_part_finish``."""
        steps = ("/upload_prepare", "/upload_part_finish")
        return [
            r
            for r in self.received
            if r.status < 300 and (r.path.endswith(steps) or r.path.startswith("/_cos/"))
        ]

    def recalls(self) -> list[Received]:
        """The recalls (DELETE of a message) that were accepted."""
        return [r for r in self.received if r.method == "DELETE" and r.status < 300]

    def interaction_acks(self) -> list[Received]:
        """The interaction acknowledgements (PUT /interactions/{id}) that were accepted."""
        return [r for r in self.received if r.method == "PUT" and r.status < 300]

    def is_token_request(self, path: str) -> bool:
        return path.split("?")[0] == "/app/getAppAccessToken"

    def refusal(self, path: str, client: str) -> Fault | None:
        if self.whitelist is None or client in self.whitelist or self.is_token_request(path):
            return None
        if path.startswith("/_cos/"):  # storage, not the OpenAPI: no whitelist
            return None
        return Fault(401, IP_NOT_WHITELISTED)

    def _unauthorized(self, headers: dict[str, str]) -> tuple[int, Any] | None:
        token = headers.get("authorization", "").removeprefix("QQBot ").strip()
        issued = self.tokens.get(token)
        if issued is None or issued[1] < time.time():
            return 401, {"code": 11244, "message": "token not exist or expire"}
        if headers.get("x-union-appid") != issued[0]:
            return 401, {"code": 11255, "message": "X-Union-Appid does not match the token"}
        return None

    def answer_method(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "PUT" and path.startswith("/_cos/"):
            return self._put_part(path, headers, body)
        path = path.split("?")[0]
        if method == "POST":
            return self.answer(path, headers, body)
        if method == "DELETE" and (match := _MESSAGE.match(path)):
            if refused := self._unauthorized(headers):
                return refused
            if self.sent_ids.get(match.group(3)) != (match.group(1), match.group(2)):
                return 404, {"code": 40034025, "message": "message not found in this chat"}
            del self.sent_ids[match.group(3)]
            return 200, {}
        if method == "PUT" and _INTERACTION.match(path):
            if refused := self._unauthorized(headers):
                return refused
            if not isinstance(body, dict) or body.get("code") not in range(6):
                return 400, {"code": BAD_BODY, "message": "code must be 0-5"}
            return 200, {}
        return 404, {"code": 404, "message": "not found"}

    def answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        path = path.split("?")[0]
        if self.is_token_request(path):
            return self._token(body)
        match = _MESSAGES.match(path)
        if match is None:
            return 404, {"code": 404, "message": "not found"}
        if refused := self._unauthorized(headers):
            return refused
        if not isinstance(body, dict):
            return 400, {"code": 40034001, "message": "body is not JSON"}
        chat = (match.group(1), match.group(2))
        if match.group(3) == "files" and "upload_id" in body:
            return self._complete(chat, body)
        if match.group(3) == "files":
            return self._upload(body)
        if match.group(3) == "upload_prepare":
            return self._prepare(chat, body)
        if match.group(3) == "upload_part_finish":
            return self._part_finish(chat, body)
        if problem := self._body_problem(body):
            return 400, {"code": BAD_BODY, "message": problem}
        ref = str(body.get("msg_id") or body.get("event_id") or "")
        seq = int(body.get("msg_seq") or 1)
        key = (match.group(1), match.group(2), ref, seq)
        if ref and key in self._seen:
            return 400, DUPLICATE
        self._seen.add(key)
        message_id = f"ROBOT1.0_fake{next(self._ids)}"
        self.sent_ids[message_id] = (match.group(1), match.group(2))
        return 200, {"id": message_id, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+08:00")}

    def _upload(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("file_type") not in (1, 2, 3, 4):
            return 400, {"code": 850010, "message": "file_type must be 1, 2, 3 or 4"}
        if ("url" in body) == ("file_data" in body):
            return 400, {"code": 850011, "message": "exactly one of url and file_data"}
        if "file_data" in body:
            try:
                base64.b64decode(str(body["file_data"]), validate=True)
            except (binascii.Error, ValueError):
                return 400, {"code": 850012, "message": "file_data is not base64"}
        info = f"fi-{next(self._ids)}"
        self.issued[info] = body
        return 200, {"file_uuid": f"f{next(self._ids)}", "file_info": info, "ttl": self.file_ttl}

    def _prepare(self, chat: tuple[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        hexes = {"md5": 32, "sha1": 40, "md5_10m": 32}
        if body.get("file_type") not in (1, 2, 3, 4):
            return 400, {"code": 850010, "message": "file_type must be 1, 2, 3 or 4"}
        if not isinstance(body.get("file_name"), str) or not body["file_name"]:
            return 400, {"code": BAD_UPLOAD, "message": "file_name is required"}
        size = body.get("file_size")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            return 400, {"code": BAD_UPLOAD, "message": "file_size is the file's length in bytes"}
        for name, length in hexes.items():
            if not re.fullmatch(f"[0-9a-f]{{{length}}}", str(body.get(name))):
                return 400, {"code": BAD_UPLOAD, "message": f"{name} is a lowercase hex digest"}
        if set(body) != {"file_type", "file_name", "file_size", *hexes}:
            return 400, {"code": BAD_UPLOAD, "message": f"unexpected fields {sorted(set(body))}"}
        upload_id = f"up-{next(self._ids)}"
        sign = f"s{next(self._ids)}"
        indexes = list(range(1, -(-size // self.part_size) + 1))
        self.part_uploads[upload_id] = PartUpload(chat, body, sign, indexes)
        parts = [
            {"index": i, "presigned_url": f"{self.url}/_cos/{upload_id}/{i}?sign={sign}"} for i in indexes
        ]
        return 200, {
            "upload_id": upload_id,
            "block_size": self.part_size,
            "parts": parts,
            "upload_config": {"concurrency": 1, "retry_timeout": 30, "retry_delay": 1},
        }

    def _put_part(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        match = _PART.match(path)
        upload = self.part_uploads.get(match.group(1)) if match else None
        if match is None or upload is None or match.group(3) != upload.sign:
            return 403, {"code": "SignatureDoesNotMatch", "message": "not a presigned part URL"}
        if "authorization" in headers:
            return 400, {"code": "InvalidArgument", "message": "a presigned URL takes no Authorization"}
        if int(match.group(2)) not in upload.indexes or not isinstance(body, bytes) or not body:
            return 400, {"code": "InvalidArgument", "message": "no such part, or no bytes"}
        upload.put[int(match.group(2))] = body
        return 200, {}

    def _part_finish(self, chat: tuple[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        upload = self.part_uploads.get(str(body.get("upload_id")))
        if upload is None or upload.chat != chat:
            return 400, {"code": BAD_UPLOAD, "message": "no such upload_id in this chat"}
        if set(body) != {"upload_id", "part_index", "block_size", "md5"}:
            return 400, {"code": BAD_UPLOAD, "message": f"unexpected fields {sorted(set(body))}"}
        data = upload.put.get(body["part_index"])
        if data is None:
            return 400, {"code": BAD_UPLOAD, "message": f"part {body['part_index']} was not uploaded"}
        if body["block_size"] != len(data) or body["md5"] != hashlib.md5(data).hexdigest():
            return 400, {"code": BAD_UPLOAD, "message": "block_size / md5 do not match the part uploaded"}
        upload.finished.add(body["part_index"])
        return 200, {}

    def _complete(self, chat: tuple[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        upload = self.part_uploads.get(str(body["upload_id"]))
        if upload is None or upload.chat != chat:
            return 400, {"code": BAD_UPLOAD, "message": "no such upload_id in this chat"}
        if set(body) != {"upload_id"}:
            return 400, {"code": BAD_UPLOAD, "message": "the upload_id goes alone"}
        if upload.finished != set(upload.indexes):
            return 400, {"code": BAD_UPLOAD, "message": "not every part was finished"}
        data = b"".join(upload.put[i] for i in upload.indexes)
        expected = upload.prepare
        if (len(data), hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest()) != (
            expected["file_size"],
            expected["md5"],
            expected["sha1"],
        ):
            return 400, {"code": BAD_UPLOAD, "message": "the parts are not the file prepared"}
        if hashlib.md5(data[:MD5_10M_BYTES]).hexdigest() != expected["md5_10m"]:
            return 400, {"code": BAD_UPLOAD, "message": "md5_10m is not the MD5 of the first 10 MiB"}
        del self.part_uploads[str(body["upload_id"])]
        info = f"fi-{next(self._ids)}"
        self.issued[info] = {"upload_id": body["upload_id"], **expected}
        return 200, {"file_uuid": f"f{next(self._ids)}", "file_info": info, "ttl": self.file_ttl}

    def _body_problem(self, body: dict[str, Any]) -> str | None:
        """Why a message body does not fit its msg_type (None: it does)."""
        msg_type = body.get("msg_type")
        if msg_type == 0 and not str(body.get("content") or "").strip():
            return "a text message needs content"
        if msg_type == 2 and not (body.get("markdown") or body.get("keyboard")):
            return "msg_type 2 needs markdown or keyboard"
        if msg_type == 3 and not isinstance(body.get("ark"), dict):
            return "msg_type 3 needs ark"
        if msg_type == 7:
            media = body.get("media")
            if not isinstance(media, dict) or media.get("file_info") not in self.issued:
                return "msg_type 7 needs media.file_info from /files"
        if msg_type not in (0, 2, 3, 7):
            return f"msg_type {msg_type!r} is not one this fake knows"
        return None

    def _token(self, body: Any) -> tuple[int, Any]:
        self.token_requests += 1
        if not isinstance(body, dict) or not body.get("appId") or not body.get("clientSecret"):
            return 400, {"code": 100007, "message": "appId and clientSecret are required"}
        if self.secrets is not None and self.secrets(str(body["appId"])) != body["clientSecret"]:
            return 401, {"code": 100016, "message": "invalid appid or secret"}
        token = f"fake-token-{next(self._ids)}"
        self.tokens[token] = (str(body["appId"]), time.time() + self.expires_in)
        return 200, {"access_token": token, "expires_in": str(self.expires_in)}


class FakeOneBotApi(FakeApi):
    """A OneBot v11 HTTP API: every action succeeds (send_* get a message_id), and the getters
    answer with data (``get_group_member_info``: ``members``, see there)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, access_token: str | None = None) -> None:
        super().__init__(host, port)
        self.access_token = access_token
        self._ids = itertools.count(1001)
        #: ``(group_id, user_id) -> get_group_member_info data``. None: everyone is a member
        #: (a made-up nickname, role ``member``); a dict: only those, others answer retcode 100
        #: ``群员不存在`` as go-cqhttp and NapCat do.
        self.members: dict[tuple[int, int], dict[str, Any]] | None = None

    def member(self, params: dict[str, Any]) -> tuple[int, Any]:
        """``get_group_member_info``'s answer."""
        try:
            key = (int(params.get("group_id")), int(params.get("user_id")))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 200, {"status": "failed", "retcode": 1400, "wording": "group_id and user_id are numbers"}
        if self.members is None:
            data = {
                "group_id": key[0],
                "user_id": key[1],
                "nickname": f"user{key[1]}",
                "card": "",
                "role": "member",
            }
        elif key in self.members:
            data = {"group_id": key[0], "user_id": key[1], **self.members[key]}
        else:
            return 200, {
                "status": "failed",
                "retcode": 100,
                "msg": "MEMBER_NOT_FOUND",
                "wording": "群员不存在",
            }
        return 200, {"status": "ok", "retcode": 0, "data": data}

    def calls(self, action: str | None = None) -> list[Received]:
        """The accepted calls (of ``action``, if given)."""
        return [
            r for r in self.received if r.status < 300 and (action is None or r.path.strip("/") == action)
        ]

    def answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if self.access_token:
            given = headers.get("authorization", "")
            if not given:
                return 401, {"status": "failed", "retcode": 1401, "wording": "access token required"}
            if given.partition(" ")[2].strip() != self.access_token:
                return 403, {"status": "failed", "retcode": 1403, "wording": "wrong access token"}
        action = path.split("?")[0].strip("/")
        if not isinstance(body, dict):
            return 400, {"status": "failed", "retcode": 1400, "wording": "params must be a JSON object"}
        if action == "get_group_member_info":
            return self.member(body)
        data = {"message_id": next(self._ids)} if action.startswith("send_") else None
        return 200, {"status": "ok", "retcode": 0, "data": data}
