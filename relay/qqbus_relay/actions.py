"""Actions the senders hand to the relay: from an SQS queue to the platform, once each.

``ActionQueue`` is the part both platforms share: it long-polls its queue off the event loop,
drops a second copy of an action it is handling or has done (SQS delivers at least once; the
ids done are kept in a file beside the spool, so a restarted relay remembers them too), runs
the platform's ``perform``, puts the result on the bus through the relay's publisher and
deletes the message. ``perform`` may also say "later": the message becomes visible again after
``retry_after`` s, and after ``max_receives`` receives the action is reported ``failed``.

- OneBot (``OneBotActions``): the OneBot sender gates an action and, for a bot with no HTTP API,
  puts it on ``RelayActionQueue``. It is sent to that bot's Universal (or API) connection as
  ``{"action", "params", "echo": <action_id>}``; the answer with the same ``echo`` becomes the
  result. A bot that is not connected is tried later; an answer that does not come in
  ``answer_timeout`` s is ``failed`` (``timeout``), not sent again: the implementation may have
  sent it.
- QQ (``qqbus_relay.qq_actions``): the QQ sender's prepared sends, delivered from this host.
"""

from __future__ import annotations

import asyncio
import json
import logging
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from qqbus.actions import Action, Result

from qqbus_relay.blocking import call_in_daemon_thread
from qqbus_relay.publisher import RelayPublisher

log = logging.getLogger("qqbus_relay.actions")

#: Action ids remembered as done, to drop a second delivery of the same message.
REMEMBERED = 10_000

J = TypeVar("J")


@dataclass
class ActionStats:
    received: int = 0
    sent: int = 0
    failed: int = 0
    not_connected: int = 0  # OneBot: tried later, the bot was away
    unavailable: int = 0  # QQ: tried later, the API could not be reached
    duplicates: int = 0
    invalid: int = 0
    parked: int = 0


class DoneIds:
    """The delivery ids done lately, in memory and (with ``path``) in a file that survives a restart."""

    def __init__(self, path: Path | None = None, limit: int = REMEMBERED) -> None:
        self.path = path
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lines = 0  # lines in the file: it is rewritten with the kept ids when it doubles
        if path is not None:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                lines = []
            for line in lines[-limit:]:
                if line.strip():
                    self._ids[line.strip()] = None
            self._lines = len(lines)
            self._compact_if_long()

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._ids

    def add(self, delivery_id: str) -> None:
        self._ids[delivery_id] = None
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(delivery_id + "\n")
            self._lines += 1
            self._compact_if_long()

    def _compact_if_long(self) -> None:
        """Rewrite the file with the ids kept once it holds twice as many lines."""
        if self.path is None or self._lines <= 2 * self.limit:
            return
        partial = self.path.with_suffix(".tmp")
        partial.write_text("".join(f"{i}\n" for i in self._ids), encoding="utf-8")
        partial.replace(self.path)
        self._lines = len(self._ids)


class Later(Exception):
    """``perform`` could not do it now (the bot is away, the API unreachable): try again later."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ActionQueue(ABC, Generic[J]):
    """Consumes one SQS queue of actions; subclasses parse and perform (see the module docstring)."""

    name = "actions"

    def __init__(
        self,
        *,
        queue_url: str,
        sqs: Any,
        publisher: RelayPublisher,
        bus_name: str,
        max_receives: int = 5,
        retry_after: int = 5,
        wait_seconds: int = 10,
        done: DoneIds | None = None,
    ) -> None:
        self.queue_url = queue_url
        self.sqs = sqs
        self.publisher = publisher
        self.bus_name = bus_name
        self.max_receives = max_receives
        self.retry_after = retry_after
        self.wait_seconds = wait_seconds
        self.stats = ActionStats()
        self.done = done or DoneIds()
        # Being handled now: SQS may hand out two copies of one action in one batch, and the
        # batch is handled concurrently; the second copy is a duplicate, not a second send.
        self._active: set[str] = set()

    @abstractmethod
    def parse(self, body: str) -> tuple[Action, J]:
        """The action a message holds and what ``perform`` needs (raises ValidationError)."""

    @abstractmethod
    async def perform(self, action: Action, job: J) -> Result:
        """Do it; the result to report. Raises ``Later`` to try again on a later receive."""

    async def after_report(self, action: Action, result: Result) -> None:
        """A hook after a result went to the publisher (QQ parks whitelist failures there)."""

    def health(self) -> dict[str, Any]:
        return {"queue": self.queue_url, **vars(self.stats)}

    async def run(self) -> None:
        """Receive and perform actions for ever (long polls off the event loop)."""
        while True:
            try:
                response = await call_in_daemon_thread(
                    lambda: self.sqs.receive_message(
                        QueueUrl=self.queue_url,
                        MaxNumberOfMessages=10,
                        WaitTimeSeconds=self.wait_seconds,
                        AttributeNames=["ApproximateReceiveCount"],
                    ),
                    name=f"qqbus-relay-{self.name}",
                )
            except Exception as exc:  # the queue is unreachable for now: the actions wait in it
                log.error("cannot read the %s queue %s: %s", self.name, self.queue_url, exc)
                await asyncio.sleep(self.retry_after)
                continue
            messages = response.get("Messages", [])
            await asyncio.gather(*(self.handle(m) for m in messages))

    async def handle(self, message: dict[str, Any]) -> None:
        self.stats.received += 1
        try:
            action, job = self.parse(message["Body"])
        except (ValidationError, ValueError) as exc:
            self.stats.invalid += 1
            log.error("a message on the %s queue is not an action (deleted): %s", self.name, str(exc)[:300])
            await self._delete(message)
            return
        key = action.delivery_id
        if key in self.done or key in self._active:
            self.stats.duplicates += 1
            await self._delete(message)  # the copy being handled (or waiting in the queue) stays
            return
        self._active.add(key)
        try:
            await self._handle(message, action, job)
        finally:
            self._active.discard(key)

    async def _handle(self, message: dict[str, Any], action: Action, job: J) -> None:
        try:
            result = await self.perform(action, job)
        except Later as later:
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if receives < self.max_receives:
                if later.reason == "not_connected":
                    self.stats.not_connected += 1
                else:
                    self.stats.unavailable += 1
                log.info("%s: %s; trying again in %s s", action.detail_type, later, self.retry_after)
                await self._later(message)
                return
            result = relay_failed(action, later.reason, str(later))
        await self._report(result)
        await self.after_report(action, result)
        self.done.add(action.delivery_id)
        await self._delete(message)

    async def _report(self, result: Result) -> None:
        """The result on the bus (through the relay's publisher: batched, spooled if need be)."""
        if result.outcome == "sent":
            self.stats.sent += 1
            log.info("%s.%s sent over the relay", result.protocol, result.action)
        else:
            self.stats.failed += 1
            log.warning(
                "%s.%s %s: %s (%s)",
                result.protocol,
                result.action,
                result.outcome,
                result.reason,
                result.message,
            )
        await self.publisher.submit(result.entry(self.bus_name))

    async def _delete(self, message: dict[str, Any]) -> None:
        receipt = message["ReceiptHandle"]
        await call_in_daemon_thread(
            lambda: self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
        )

    async def _later(self, message: dict[str, Any]) -> None:
        receipt = message["ReceiptHandle"]
        await call_in_daemon_thread(
            lambda: self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=self.retry_after
            )
        )


class Answers:
    """Futures waiting for API answers, by ``echo``; the reverse server resolves them."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def expect(self, echo: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[echo] = future
        return future

    def forget(self, echo: str) -> None:
        self._waiting.pop(echo, None)

    def offer(self, raw: str | bytes) -> bool:
        """Resolve the future this frame answers; whether it was such an answer."""
        if not self._waiting:
            return False
        probe = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
        if b'"echo"' not in probe:
            return False
        try:
            answer = json.loads(probe)
        except (ValueError, RecursionError):
            return False
        if not isinstance(answer, dict) or "post_type" in answer:
            return False
        future = self._waiting.pop(str(answer.get("echo")), None)
        if future is None or future.done():
            return False
        future.set_result(answer)
        return True


class OneBotActions(ActionQueue[None]):
    """OneBot actions for bots on the reverse WebSocket; needs its connections and ``Answers``."""

    name = "onebot-actions"

    def __init__(
        self,
        *,
        connections: dict[tuple[str, str], Any],
        answers: Answers,
        answer_timeout: float = 10.0,
        **queue: Any,
    ) -> None:
        super().__init__(**queue)
        self.connections = connections
        self.answers = answers
        self.answer_timeout = answer_timeout

    def parse(self, body: str) -> tuple[Action, None]:
        return Action.model_validate_json(body), None

    async def perform(self, action: Action, job: None) -> Result:
        from qqbus.senders.onebot import result_of

        ws = self.connections.get((action.bot_id, "Universal")) or self.connections.get(
            (action.bot_id, "API")
        )
        if ws is None:
            raise Later("not_connected", f"bot {action.bot_id} is not connected to the relay")
        waiting = self.answers.expect(action.action_id)
        frame = {"action": action.action, "params": action.params, "echo": action.action_id}
        try:
            await ws.send(json.dumps(frame, ensure_ascii=False))
            answer = await asyncio.wait_for(waiting, self.answer_timeout)
        except TimeoutError:
            return relay_failed(
                action, "timeout", f"no answer in {self.answer_timeout:.0f} s (not sent again)"
            )
        except Exception as exc:  # the connection closed while sending
            return relay_failed(action, "not_connected", f"the connection closed: {exc}")
        finally:
            self.answers.forget(action.action_id)
        return result_of(action, answer, mode="relay")


def relay_failed(action: Action, reason: str, message: str) -> Result:
    from qqbus.senders.outcome import failed

    return failed(action, reason, message, mode="relay")
