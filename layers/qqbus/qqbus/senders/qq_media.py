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
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from qqbus.aws import cached, client

#: An entry this close to its expiry is not used (the message may take a while to send).
EXPIRY_MARGIN_S = 60
ACTIONS_TABLE_ENV = "ACTIONS_TABLE_NAME"


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
