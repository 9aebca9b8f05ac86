"""OneBot actions for bots connected through the reverse WebSocket: from the queue to the socket.

The OneBot sender gates an action and, for a bot with no HTTP API, puts it on the SQS queue
``RelayActionQueue``. Here it is sent to that bot's Universal (or API) connection as
``{"action", "params", "echo": <action_id>}``; the answer with the same ``echo`` becomes the
action's result (``sent`` or ``failed``), put on the bus like any relay entry. Then the message is
deleted. A bot that is not connected is tried again on later receives (the message becomes
visible again after ``retry_after`` s) and, after ``max_receives``, reported ``failed``
(``not_connected``). An answer that does not come in ``answer_timeout`` s is ``failed``
(``timeout``), not sent again: the implementation may have sent it. An action id already done
(SQS delivers at least once) is deleted without sending.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from qqbus.actions import Action, Result
from qqbus.relay.blocking import call_in_daemon_thread
from qqbus.relay.publisher import RelayPublisher

log = logging.getLogger("qqbus.relay.actions")

#: Action ids remembered as done, to drop a second delivery of the same message.
REMEMBERED = 10_000


@dataclass
class ActionStats:
    received: int = 0
    sent: int = 0
    failed: int = 0
    not_connected: int = 0
    duplicates: int = 0
    invalid: int = 0


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


class RelayActions:
    """Consumes the action queue; needs the reverse server's connections and ``Answers``."""

    def __init__(
        self,
        *,
        queue_url: str,
        sqs: Any,
        connections: dict[tuple[str, str], Any],
        answers: Answers,
        publisher: RelayPublisher,
        bus_name: str,
        answer_timeout: float = 10.0,
        max_receives: int = 5,
        retry_after: int = 5,
        wait_seconds: int = 10,
    ) -> None:
        self.queue_url = queue_url
        self.sqs = sqs
        self.connections = connections
        self.answers = answers
        self.publisher = publisher
        self.bus_name = bus_name
        self.answer_timeout = answer_timeout
        self.max_receives = max_receives
        self.retry_after = retry_after
        self.wait_seconds = wait_seconds
        self.stats = ActionStats()
        self._done: OrderedDict[str, None] = OrderedDict()
        # Being handled now: SQS may hand out two copies of one action in one batch, and the
        # batch is handled concurrently; the second copy is a duplicate, not a second send.
        self._active: set[str] = set()

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
                    name="qqbus-relay-actions",
                )
            except Exception as exc:  # the queue is unreachable for now: the actions wait in it
                log.error("cannot read the action queue %s: %s", self.queue_url, exc)
                await asyncio.sleep(self.retry_after)
                continue
            messages = response.get("Messages", [])
            await asyncio.gather(*(self.handle(m) for m in messages))

    async def handle(self, message: dict[str, Any]) -> None:
        self.stats.received += 1
        try:
            action = Action.model_validate_json(message["Body"])
        except ValidationError as exc:
            self.stats.invalid += 1
            log.error("an action on the queue is not an action (deleted): %s", str(exc)[:300])
            await self._delete(message)
            return
        if action.action_id in self._done or action.action_id in self._active:
            self.stats.duplicates += 1
            await self._delete(message)  # the copy being handled (or waiting in the queue) stays
            return
        self._active.add(action.action_id)
        try:
            await self._handle(message, action)
        finally:
            self._active.discard(action.action_id)

    async def _handle(self, message: dict[str, Any], action: Action) -> None:
        ws = self.connections.get((action.bot_id, "Universal")) or self.connections.get(
            (action.bot_id, "API")
        )
        if ws is None:
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if receives < self.max_receives:
                self.stats.not_connected += 1
                await self._later(message)
                return
            result = _failed(action, "not_connected", f"bot {action.bot_id} is not connected to the relay")
        else:
            result = await self._perform(ws, action)
        await self._report(result)
        self._remember(action.action_id)
        await self._delete(message)

    async def _perform(self, ws: Any, action: Action) -> Result:
        from qqbus.senders.onebot import result_of

        waiting = self.answers.expect(action.action_id)
        frame = {"action": action.action, "params": action.params, "echo": action.action_id}
        try:
            await ws.send(json.dumps(frame, ensure_ascii=False))
            answer = await asyncio.wait_for(waiting, self.answer_timeout)
        except TimeoutError:
            return _failed(action, "timeout", f"no answer in {self.answer_timeout:.0f} s (not sent again)")
        except Exception as exc:  # the connection closed while sending
            return _failed(action, "not_connected", f"the connection closed: {exc}")
        finally:
            self.answers.forget(action.action_id)
        return result_of(action, answer, mode="relay")

    async def _report(self, result: Result) -> None:
        """The result on the bus (through the relay's publisher: batched, spooled if need be)."""
        if result.outcome == "sent":
            self.stats.sent += 1
            log.info("%s.%s sent over the relay", result.protocol, result.action)
        else:
            self.stats.failed += 1
            log.warning(
                "%s.%s failed: %s (%s)", result.protocol, result.action, result.reason, result.message
            )
        await self.publisher.submit(result.entry(self.bus_name))

    def _remember(self, action_id: str) -> None:
        self._done[action_id] = None
        while len(self._done) > REMEMBERED:
            self._done.popitem(last=False)

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


def _failed(action: Action, reason: str, message: str) -> Result:
    from qqbus.senders.outcome import failed

    return failed(action, reason, message, mode="relay")
