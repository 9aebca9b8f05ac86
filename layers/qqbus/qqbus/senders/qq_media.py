"""The ``file_info`` of media already uploaded to QQ, kept for the ``ttl`` QQ gave it.

QQ sends a medium in two steps: ``POST /v2/{groups|users}/{id}/files`` answers ``{file_uuid,
file_info, ttl}``, then the message carries ``media: {file_info}``. The upload is no message:
it takes no reply slot and no ``msg_seq`` (the message that follows takes one, like any other).
A ``file_info`` is reusable until its ``ttl`` runs out, so a send that is retried after its upload
went through (the message answered 5xx, the invocation failed and Lambda runs it again) and a
second send of the same medium to the same chat reuse it instead of uploading again.

Key: the bot, the upload path (the group or user: a ``file_info`` belongs to its chat) and the
medium's digest (file type + SHA-256 of its URL or bytes). Two levels:

- in-process (``InMemoryMediaCache``): what the relay uses, and the first level in Lambda;
- the actions table (``DynamoMediaCache``, items ``media:<path>:<digest>`` beside the ledger's
  reply slots, expiring with the ``file_info``): a Lambda retry may land in another container,
  so the in-process level alone would upload again. One GetItem per medium sent, one UpdateItem
  per upload; a cache that cannot be read or written only costs an upload.

Bytes over 10 MiB go by QQ's multi-part upload (``upload_in_parts``), as nonebot-adapter-qq sends
them: ``upload_prepare`` -> each part PUT to its presigned URL, then ``upload_part_finish`` ->
``/files`` with the ``upload_id``, which answers the same ``{file_uuid, file_info, ttl}``. It is
cached like any upload, and is no message either.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from abc import ABC, abstractmethod
from typing import Any, Protocol

from qqbus.aws import cached, client
from qqbus.senders.json_http import HttpResponse

#: An entry this close to its expiry is not used (the message may take a while to send).
EXPIRY_MARGIN_S = 60
ACTIONS_TABLE_ENV = "ACTIONS_TABLE_NAME"
#: How much of the file ``md5_10m`` covers: nonebot-adapter-qq hashes the first 10 MiB
#: (``file_data[: 10 * 1024 * 1024]``), and qqbus sends what it sends. (Other SDKs, quoting the
#: platform's page, hash the first 10002432 bytes: QQ's old FTN convention.)
MD5_10M_BYTES = 10 * 1024 * 1024


class MediaCache(ABC):
    @abstractmethod
    def get(self, bot_id: str, key: str) -> str | None:
        """The ``file_info`` stored under ``key``, unless it expires within the margin."""

    @abstractmethod
    def put(self, bot_id: str, key: str, file_info: str, ttl: int) -> None:
        """Keep ``file_info`` for ``ttl`` seconds."""


class InMemoryMediaCache(MediaCache):
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, bot_id: str, key: str) -> str | None:
        with self._lock:
            found = self.entries.get((bot_id, key))
        if found is None or found[1] - EXPIRY_MARGIN_S <= time.time():
            return None
        return found[0]

    def put(self, bot_id: str, key: str, file_info: str, ttl: int) -> None:
        if ttl <= EXPIRY_MARGIN_S:
            return
        with self._lock:
            self.entries[(bot_id, key)] = (file_info, time.time() + ttl)


class DynamoMediaCache(MediaCache):
    """The actions table behind an in-process level."""

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._client = dynamodb or client("dynamodb")
        self.local = InMemoryMediaCache()

    def _key(self, bot_id: str, key: str) -> dict[str, Any]:
        return {"bot_id": {"S": bot_id}, "ref": {"S": f"media:{key}"}}

    def get(self, bot_id: str, key: str) -> str | None:
        if found := self.local.get(bot_id, key):
            return found
        try:
            item = self._client.get_item(TableName=self.table_name, Key=self._key(bot_id, key)).get("Item")
        except Exception:  # a cache miss costs an upload, never the send
            return None
        if not item:
            return None
        file_info = item.get("file_info", {}).get("S")
        expires_at = int(item.get("expires_at", {}).get("N", "0"))
        remaining = expires_at - int(time.time())
        if not file_info or remaining <= EXPIRY_MARGIN_S:
            return None
        self.local.put(bot_id, key, file_info, remaining)
        return str(file_info)

    def put(self, bot_id: str, key: str, file_info: str, ttl: int) -> None:
        if ttl <= EXPIRY_MARGIN_S:
            return
        self.local.put(bot_id, key, file_info, ttl)
        try:  # UpdateItem: what the sender's policy on the actions table allows (with GetItem)
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(bot_id, key),
                UpdateExpression="SET file_info = :info, expires_at = :exp",
                ExpressionAttributeValues={
                    ":info": {"S": file_info},
                    ":exp": {"N": str(int(time.time()) + ttl)},
                },
            )
        except Exception:
            return  # the in-process level still has it


@cached
def process_media_cache() -> InMemoryMediaCache:
    """This process's cache (the relay's, and any deliver without a table)."""
    return InMemoryMediaCache()


@cached
def media_cache() -> MediaCache:
    """The QQ sender's cache: the actions table when the function has one, else in-process."""
    table = os.environ.get(ACTIONS_TABLE_ENV, "").strip()
    return DynamoMediaCache(table) if table else process_media_cache()


class OpenApi(Protocol):
    """What a multi-part upload asks of the QQ client (``qqbus.senders.qq.QQApi``)."""

    def request(self, method: str, path: str, body: dict[str, Any] | None) -> HttpResponse:
        """An OpenAPI call with the token."""
        ...

    def put_part(self, url: str, data: bytes) -> HttpResponse:
        """A part PUT to its presigned URL."""
        ...


def upload_in_parts(api: OpenApi, files_path: str, body: dict[str, Any]) -> HttpResponse:
    """QQ's multi-part upload of ``body`` (``file_type``, ``file_name``, base64 ``file_data``)
    into the chat whose ``/files`` is ``files_path``; the answer of the last step, ``/files``
    with the ``upload_id`` (``{file_uuid, file_info, ttl}``), or the first refusal.

    The requests are nonebot-adapter-qq's (``post_group_upload`` / ``post_c2c_upload``), field by
    field: ``POST {chat}/upload_prepare {file_type, file_name, file_size, md5, sha1, md5_10m}`` ->
    ``{upload_id, block_size, parts: [{index, presigned_url}], upload_config}``; part ``i`` of
    ``parts`` is bytes ``[i * block_size, (i + 1) * block_size)``, PUT to its ``presigned_url``,
    then ``POST {chat}/upload_part_finish {upload_id, part_index, block_size, md5}`` (its own
    length and MD5); last ``POST {chat}/files {upload_id}``. Parts go one at a time, in order
    (``upload_config.concurrency`` is the most QQ takes at once). The presigned URL carries its
    own signature: the QQ token is not sent there.

    Raises
    ------
    Unavailable
        A step kept answering 429/5xx or could not connect: the send is retried later, and the
        upload starts again from ``upload_prepare``.
    """
    raw = base64.b64decode(str(body["file_data"]))
    chat = files_path.removesuffix("/files")
    prepared = api.request(
        "POST",
        f"{chat}/upload_prepare",
        {
            "file_type": body["file_type"],
            "file_name": body["file_name"],
            "file_size": len(raw),
            "md5": _md5(raw),
            "sha1": hashlib.sha1(raw, usedforsecurity=False).hexdigest(),
            "md5_10m": _md5(raw[:MD5_10M_BYTES]),
        },
    )
    if prepared.status >= 300:
        return prepared
    plan = _plan(prepared.json(), len(raw))
    if isinstance(plan, str):
        return _not_understood(prepared, plan)
    upload_id, block_size, parts = plan
    for i, (index, url) in enumerate(parts):
        part = raw[i * block_size : (i + 1) * block_size]
        answer = api.put_part(url, part)
        if answer.status >= 300:
            return answer
        finish = {"upload_id": upload_id, "part_index": index, "block_size": len(part), "md5": _md5(part)}
        answer = api.request("POST", f"{chat}/upload_part_finish", finish)
        if answer.status >= 300:
            return answer
    return api.request("POST", files_path, {"upload_id": upload_id})


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _plan(data: Any, size: int) -> tuple[str, int, list[tuple[int, str]]] | str:
    """``(upload_id, block_size, [(index, presigned_url), ...])`` from ``upload_prepare``'s
    answer, or what is wrong with it."""
    if not isinstance(data, dict) or not isinstance(data.get("upload_id"), str) or not data["upload_id"]:
        return "no upload_id"
    block_size = _positive(data.get("block_size"))
    if block_size is None:
        return "no block_size"
    parts: list[tuple[int, str]] = []
    listed = data.get("parts")
    for part in listed if isinstance(listed, list) else []:
        index = _positive(part.get("index"), zero=True) if isinstance(part, dict) else None
        url = part.get("presigned_url") if isinstance(part, dict) else None
        if index is None or not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return "a part without its index and presigned_url"
        parts.append((index, url))
    if len(parts) * block_size < size:
        return f"{len(parts)} parts of {block_size} bytes do not hold {size} bytes"
    return data["upload_id"], block_size, parts


def _positive(value: Any, *, zero: bool = False) -> int | None:
    """An integer (or digits: QQ's pages show some as strings) above 0, or at least 0."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < (0 if zero else 1):
        return None
    return value


def _not_understood(response: HttpResponse, why: str) -> HttpResponse:
    """``response`` with a body that says why its answer cannot be used (a refusal, not a retry)."""
    message = f"upload_prepare answered what qqbus cannot use: {why}"
    body = json.dumps({"code": "bad_upload_prepare", "message": message}).encode()
    return HttpResponse(response.status, body, response.headers)
