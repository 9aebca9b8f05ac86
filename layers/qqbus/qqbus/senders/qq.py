"""The QQ sender: group and C2C messages through the QQ OpenAPI, gated, sent once.

- Access token: ``POST QQ_TOKEN_URL {"appId", "clientSecret"}`` -> ``{"access_token",
  "expires_in"}`` (``expires_in`` is a string in the docs). Cached per container until 60 s
  before it expires, and fetched again once when the API answers 401.
- Request: ``POST {QQ_API_BASE}/v2/groups/{group_openid}/messages`` or ``/v2/users/{openid}/messages``
  with ``Authorization: QQBot <token>`` and ``X-Union-Appid``; body ``{content, msg_type,
  msg_id | event_id, msg_seq}`` plus ``markdown`` / ``keyboard`` / ``ark`` / ``message_reference``
  (``qqbus.senders.qq_message`` renders the segments). A medium (image, video, voice, file; by
  URL or bytes) is uploaded first (``/files``; bytes over 10 MiB in parts, ``upload_prepare`` ...)
  and sent as ``msg_type`` 7 with its ``file_info``, which is cached for its ``ttl``
  (``qqbus.senders.qq_media``): a retry does not upload again.
- ``recall``: ``DELETE /v2/{groups|users}/{id}/messages/{message_id}``; ``ack_interaction``:
  ``PUT /interactions/{id} {"code"}``. Neither takes a reply slot.
- ``msg_seq`` is the reply slot the ledger gives the action: a repeated action repeats it, and
  QQ's "duplicate msg_seq" (40054005) then means it was delivered already: ``sent``.
- Platform errors map to readable reasons (``QQ_ERRORS``); 429/5xx are retried (``Retrying``).
- The IP whitelist (DESIGN "QQ in production"): QQ refuses calls from an address the bot does not
  list with HTTP 401, code 11298. That is ``failed`` with reason ``ip_not_whitelisted`` and a
  message that says which address to list; it is not a token problem, so the token is kept.

Performing is two steps, so that the Lambda and the relay share one code path: ``prepare``
gates and renders an action into a ``QqSend`` (the requests, with their ``msg_seq``);
``deliver`` makes its requests with a ``QQApi`` and maps the answer to a result. With
``QqEgress=relay`` the Lambda puts the ``QqSend`` on ``QQ_RELAY_QUEUE_URL`` and the relay, whose
address is on the whitelist, delivers it (``qqbus_relay.qq_actions``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from qqbus.actions import Action, Result
from qqbus.aws import cached, client
from qqbus.events.message import Segment
from qqbus.secrets import qq_secret
from qqbus.senders.gate import Cite, Passive, Refused, gate_qq
from qqbus.senders.json_http import HttpResponse, Retrying, Unavailable, request_bytes, request_json
from qqbus.senders.ledger import AlreadyDone
from qqbus.senders.outcome import Repeated, SendContext, failed, refused, sent
from qqbus.senders.qq_media import MediaCache, media_cache, process_media_cache, upload_in_parts
from qqbus.senders.qq_message import Media, UnsupportedMessage, render_message

QQ_API_BASE = "https://api.sgroup.qq.com"
QQ_SANDBOX_API_BASE = "https://sandbox.api.sgroup.qq.com"
QQ_TOKEN_URL = "https://bots.qq.com/app/getAppAccessToken"
#: A cached token is fetched again this many seconds before it expires.
TOKEN_EARLY_S = 60
#: Code QQ answers when a msg_seq was already used for that message: the earlier send worked.
DUPLICATE_MSG_SEQ = 40054005
#: Code QQ answers (HTTP 401) when the caller's address is not on the bot's IP whitelist.
IP_NOT_WHITELISTED = 11298
#: QQ error codes with a readable reason (others are reported as ``qq_<code>``).
QQ_ERRORS = {
    IP_NOT_WHITELISTED: "ip_not_whitelisted",
    40034102: "no_permission",
    40034105: "no_permission",
    22009: "limit_exceeded",
    40034024: "bad_msg_id",
    11244: "unauthorized",
    11255: "unauthorized",
}
#: 401 codes that are about something else than the token: a fresh token would not help.
NOT_TOKEN_CODES = frozenset({IP_NOT_WHITELISTED})
#: Where the QQ sender hands prepared sends to the relay (``QqEgress=relay``).
RELAY_QUEUE_ENV = "QQ_RELAY_QUEUE_URL"
PATHS = {"group_message": "/v2/groups/{}/messages", "c2c_message": "/v2/users/{}/messages"}
FILE_PATHS = {"group_message": "/v2/groups/{}/files", "c2c_message": "/v2/users/{}/files"}
#: Actions that are not messages: they take no reply slot and are not gated on the chat's state.
RECALL, ACK_INTERACTION = "recall", "ack_interaction"


def api_base() -> str:
    return (os.environ.get("QQ_API_BASE") or QQ_API_BASE).rstrip("/")


def token_url() -> str:
    return os.environ.get("QQ_TOKEN_URL") or QQ_TOKEN_URL


def render(segments: list[Segment]) -> tuple[str, Media | None]:
    """``(content, medium)`` of a text / mention / media message (``render_message`` does all).

    Raises
    ------
    UnsupportedMessage
        For a segment QQ messages cannot carry (see ``qqbus.senders.qq_message``).
    """
    message = render_message(segments)
    return message.content, message.media


@cached
def _tokens() -> dict[tuple[str, str], tuple[str, float]]:
    """(token URL, app id) -> (access token, expiry on the wall clock); per container."""
    return {}


@dataclass
class QQApi:
    """The OpenAPI calls the sender makes, with the token and retries handled."""

    app_id: str
    secret: str
    base: str
    token_endpoint: str
    retrying: Retrying
    deadline: float | None = None

    def token(self, *, fresh: bool = False) -> str:
        key = (self.token_endpoint, self.app_id)
        cached_token = _tokens().get(key)
        if cached_token and not fresh and cached_token[1] - TOKEN_EARLY_S > time.time():
            return cached_token[0]
        response = self.retrying.call(
            lambda: request_json(
                "POST", self.token_endpoint, {"appId": self.app_id, "clientSecret": self.secret}
            ),
            deadline=self.deadline,
        )
        data = response.json() or {}
        token, expires_in = data.get("access_token"), str(data.get("expires_in", ""))
        if response.status != 200 or not token or not expires_in.strip().isdigit():
            raise PermissionError(f"no access token (HTTP {response.status}): {response.body[:200]!r}")
        _tokens()[key] = (str(token), time.time() + int(expires_in))
        return str(token)

    def post(self, path: str, body: dict[str, Any]) -> HttpResponse:
        """POST with the token; on a 401 about the token, fetch a new one once and try again."""
        return self.request("POST", path, body)

    def request(self, method: str, path: str, body: dict[str, Any] | None) -> HttpResponse:
        """Any OpenAPI call with the token (refreshed once on a 401 about the token)."""
        response = self._request(method, path, body, self.token())
        if response.status == 401 and _int(_error(response)[0]) not in NOT_TOKEN_CODES:
            response = self._request(method, path, body, self.token(fresh=True))
        return response

    def put_part(self, url: str, data: bytes) -> HttpResponse:
        """PUT a part of a multi-part upload to its presigned URL (retried like any call). The URL
        carries its own signature, and is storage, not the OpenAPI: no token goes there."""
        return self.retrying.call(lambda: request_bytes("PUT", url, data), deadline=self.deadline)

    def _request(self, method: str, path: str, body: dict[str, Any] | None, token: str) -> HttpResponse:
        headers = {"Authorization": f"QQBot {token}", "X-Union-Appid": self.app_id}
        return self.retrying.call(
            lambda: request_json(method, self.base + path, body, headers), deadline=self.deadline
        )


def _error(response: HttpResponse) -> tuple[int | str, str]:
    data = response.json()
    if isinstance(data, dict):
        code = data.get("code") or data.get("err_code") or response.status
        return code, str(data.get("message") or data.get("msg") or "")
    return response.status, response.body[:200].decode("utf-8", "replace")


class Upload(BaseModel):
    """A media upload that must come before the message (its ``file_info`` goes in the message).

    ``key`` names it in the media cache (the chat's upload path and the medium's digest);
    ``in_parts``: bytes over 10 MiB, uploaded by ``qqbus.senders.qq_media.upload_in_parts``."""

    path: str
    body: dict[str, Any]
    key: str | None = None
    in_parts: bool = False


class QqSend(BaseModel):
    """A gated QQ action, ready to deliver: its requests, with the reply slot already taken.

    What the relay receives from the QQ sender (``QqEgress=relay``), so both deliver the same
    requests: the ``msg_seq`` travels with them, and a second delivery repeats it.
    """

    model_config = ConfigDict(extra="allow", defer_build=True)

    action: Action
    path: str
    body: dict[str, Any]
    upload: Upload | None = None
    mode: Literal["passive", "event", "direct"]
    method: Literal["POST", "DELETE", "PUT"] = "POST"
    #: The ledger ref whose slot gave the ``msg_seq`` (its done mark is written beside it).
    slot_ref: str | None = None

    @property
    def msg_seq(self) -> int | None:
        seq = self.body.get("msg_seq")
        return seq if isinstance(seq, int) else None


def prepare(action: Action, ctx: SendContext) -> QqSend | Result:
    """Gate and render one QQ action: the send to deliver, or the result when there is none."""
    if action.action in (RECALL, ACK_INTERACTION):
        return _prepare_direct(action)
    if action.action not in PATHS:
        return failed(action, "unsupported_action", f"QQ has no action {action.action!r}")
    to = action.target.group_id if action.action == "group_message" else action.target.user_id
    if not to:
        return failed(action, "no_target", f"{action.action} needs a target")
    try:
        message = render_message(action.message or [])
    except UnsupportedMessage as exc:
        return failed(action, exc.reason, str(exc))
    if "msg_type" not in message.body:
        return failed(action, "empty_message", "nothing to send")
    in_group = action.action == "group_message"
    group = ctx.groups().get(action.bot_id, to) if in_group else None
    user = None if in_group else ctx.users().get(action.bot_id, to)
    refs: list[str] = []

    def take_seq(ref: str, limit: int | None) -> int | None:
        refs.append(ref)  # raises AlreadyDone for a delivery with a done mark here
        return ctx.ledger().take_slot(
            action.bot_id, ref, action.action_id, limit, delivery_id=action.delivery_id
        )

    decision = gate_qq(action, group, ctx.now, take_seq, user)
    if isinstance(decision, Refused):
        return refused(action, decision.reason, decision.message)
    body: dict[str, Any] = {**message.body, "msg_seq": decision.msg_seq}
    if isinstance(decision, Passive):
        body["msg_id"] = decision.msg_id
    else:
        body["event_id"] = decision.event_id
    upload = None
    if message.media is not None:
        path = FILE_PATHS[action.action].format(to)
        upload = Upload(
            path=path,
            body=message.media.upload_body(),
            key=f"{path}:{message.media.digest}",
            in_parts=message.media.in_parts,
        )
    return QqSend(
        action=action,
        path=PATHS[action.action].format(to),
        body=body,
        upload=upload,
        mode="passive" if isinstance(decision, Passive) else "event",
        slot_ref=refs[-1] if refs else None,
    )


def _prepare_direct(action: Action) -> QqSend | Result:
    """``recall`` (params ``message_id``; target group or user) and ``ack_interaction`` (params
    ``interaction_id``, ``code`` 0 by default): one request each, no reply slot."""
    if action.action == ACK_INTERACTION:
        interaction = str(action.params.get("interaction_id") or "")
        code = action.params.get("code", 0)
        if not interaction or not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 5:
            return failed(action, "bad_params", "ack_interaction needs interaction_id and a code 0-5")
        return QqSend(
            action=action,
            path=f"/interactions/{interaction}",
            body={"code": code},
            mode="direct",
            method="PUT",
        )
    message_id = str(action.params.get("message_id") or "")
    group, user = action.target.group_id, action.target.user_id
    if not message_id or not (group or user):
        return failed(action, "bad_params", "recall needs params.message_id and a target group or user")
    where = f"/v2/groups/{group}" if group else f"/v2/users/{user}"
    return QqSend(
        action=action, path=f"{where}/messages/{message_id}", body={}, mode="direct", method="DELETE"
    )


def deliver(send: QqSend, api: QQApi, *, whitelist_hint: str = "", cache: MediaCache | None = None) -> Result:
    """Make the requests of ``send`` (the upload unless cached, then the message); its result.

    Raises
    ------
    Unavailable
        QQ could not be reached, or kept answering 429/5xx (retry later; the same ``msg_seq``).
    """
    action = send.action
    body = dict(send.body)
    extra: dict[str, Any] = {"mode": send.mode}
    if send.msg_seq is not None:
        extra["msg_seq"] = send.msg_seq
    cache = cache if cache is not None else process_media_cache()
    try:
        if send.upload is not None:
            info = _uploaded(send.upload, action.bot_id, api, cache)
            if isinstance(info, HttpResponse):
                return _refusal(action, info, "media upload: ", whitelist_hint, **extra)
            body["media"] = {"file_info": info}
        if send.method == "POST":
            response = api.request("POST", send.path, body)
        else:
            response = api.request(send.method, send.path, body or None)
    except PermissionError as exc:
        return failed(action, "unauthorized", str(exc))
    if response.status < 300:
        data = response.json()
        message_id = data.get("id") if isinstance(data, dict) else None
        return sent(action, platform_message_id=message_id, data=data or None, **extra)
    code, _ = _error(response)
    if _int(code) == DUPLICATE_MSG_SEQ:
        return sent(action, message="already delivered (QQ: duplicate msg_seq)", **extra)
    return _refusal(action, response, "", whitelist_hint, **extra)


def _uploaded(upload: Upload, bot_id: str, api: QQApi, cache: MediaCache) -> str | HttpResponse:
    """The ``file_info`` of ``upload``: cached, or uploaded now (and cached); QQ's refusal else."""
    if upload.key and (info := cache.get(bot_id, upload.key)):
        return info
    if upload.in_parts:
        response = upload_in_parts(api, upload.path, upload.body)
    else:
        response = api.request("POST", upload.path, upload.body)
    data = response.json() if response.status < 300 else None
    info = data.get("file_info") if isinstance(data, dict) else None
    if not isinstance(info, str) or not info:
        return response
    ttl = data.get("ttl") if isinstance(data, dict) else None
    if upload.key and isinstance(ttl, int):
        cache.put(bot_id, upload.key, info, ttl)
    return info


def _refusal(action: Action, response: HttpResponse, what: str, hint: str, **extra: Any) -> Result:
    code, message = _error(response)
    if _int(code) == IP_NOT_WHITELISTED:
        message = (
            f"{what}QQ refused the call: {message or 'IP not whitelisted'} (code {code}). {hint}".strip()
        )
    else:
        message = f"{what}{message}"
    return failed(action, _reason(code), message, code=code, **extra)


def whitelist_hint(egress: str | None = None, egress_ip: str | None = None) -> str:
    """What to do about code 11298, for the sender's egress mode (``QQ_EGRESS``, ``QQ_EGRESS_IP``)."""
    egress = (os.environ.get("QQ_EGRESS", "") if egress is None else egress).strip() or "direct"
    egress_ip = (os.environ.get("QQ_EGRESS_IP", "") if egress_ip is None else egress_ip).strip()
    where = "the QQ bot's development settings (开发设置 -> IP白名单)"
    if egress == "nat":
        return (
            f"Add {egress_ip or 'the stack output QqEgressIp'} (the stack output QqEgressIp) to the IP "
            f"whitelist in {where}, then replay the parked action."
        )
    if egress == "relay":
        return (
            f"Add the relay host's public IP to the IP whitelist in {where}, then replay the parked action."
        )
    return (
        "A Lambda has no fixed address (QqEgress=direct): deploy with QqEgress=nat (whitelist the output "
        "QqEgressIp) or QqEgress=relay (whitelist the relay host), or try in the sandbox with "
        "QqSandbox=true; then replay the parked action."
    )


def needs_lock_record(action: Action) -> bool:
    """Whether a delivery of ``action`` needs the sender's idempotency record: messages are sent
    once by their reply slot's done mark and msg_seq (``perform``); a recall or an interaction
    ack has neither."""
    return action.action in (RECALL, ACK_INTERACTION)


def perform(action: Action, ctx: SendContext) -> Result | Repeated | None:
    """Gate, render and send one QQ action: the result to report, ``Repeated`` when the ledger
    says this delivery was performed already, or None when the relay will send it.

    A message is sent at most once without lock records: the reply slot it holds carries a done
    mark once its outcome is known (one write), which a repeated delivery finds in the read it
    makes for the slot anyway. A crash between the send and the mark leaves the slot held, so the
    retry repeats the ``msg_seq`` and QQ's 40054005 says it was delivered.
    """
    try:
        prepared = prepare(action, ctx)
    except AlreadyDone as done:
        return Repeated(done.outcome)
    if isinstance(prepared, Result):
        if prepared.outcome == "refused" and (repeated := _performed_passive(action, ctx)):
            return repeated  # refused now (a closed window, say), but this delivery was performed
        return prepared
    if queue := os.environ.get(RELAY_QUEUE_ENV, "").strip():
        client("sqs").send_message(QueueUrl=queue, MessageBody=prepared.model_dump_json(exclude_none=True))
        _mark_done(prepared, ctx, "relayed")  # the relay performs it once (its own done ids)
        return None
    secret = qq_secret(action.bot_id)
    if not secret:
        return failed(action, "no_secret", f"no QQ bot secret is configured for AppID {action.bot_id}")
    api = QQApi(action.bot_id, secret, api_base(), token_url(), ctx.retrying, ctx.deadline)
    result = deliver(prepared, api, whitelist_hint=whitelist_hint(), cache=media_cache())
    _mark_done(prepared, ctx, result.outcome)
    return result


def _mark_done(send: QqSend, ctx: SendContext, outcome: str) -> None:
    if send.slot_ref is not None:
        ctx.ledger().mark_done(send.action.bot_id, send.slot_ref, send.action.delivery_id, outcome)


def _performed_passive(action: Action, ctx: SendContext) -> Repeated | None:
    """A refused passive reply's done mark, if this delivery was performed before (one read, on
    the refusal path only)."""
    reply = action.reply_to
    if reply is None or not reply.message_id:
        return None
    outcome = ctx.ledger().done(action.bot_id, f"msg:{reply.message_id}", action.delivery_id)
    return Repeated(outcome) if outcome else None


def _int(code: int | str) -> int | None:
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


def _reason(code: int | str) -> str:
    """The readable reason for a QQ error code."""
    known = _int(code)
    return (QQ_ERRORS.get(known) if known is not None else None) or f"qq_{code}"


__all__ = [
    "Cite",
    "Passive",
    "QQApi",
    "QqSend",
    "Unavailable",
    "UnsupportedMessage",
    "deliver",
    "perform",
    "prepare",
    "render",
]
