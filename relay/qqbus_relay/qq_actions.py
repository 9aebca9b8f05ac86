"""QQ actions performed from the relay's host, whose address is on the bot's IP whitelist.

With ``QqEgress=relay`` the QQ sender gates each action as always, takes its reply slot
(``msg_seq``) and puts the prepared send (``qqbus.senders.qq.QqSend``) on the queue
``QqRelayActionQueue``. Here it is delivered by the same code the Lambda uses
(``qqbus.senders.qq.deliver``: the token, the upload, the message, the error mapping), so the
requests are the same ones. Once per action: the ids done are remembered (in a file beside the
spool, across restarts), and a send repeated after a crash repeats its ``msg_seq``, which QQ
answers with 40054005: counted as sent.

QQ unreachable (429/5xx/network after the retries): tried again on a later receive, and
reported ``failed`` (``unavailable``) after ``max_receives``. Code 11298 (this host is not on
the whitelist): reported ``failed`` (``ip_not_whitelisted``) with an ERROR that says so, and
parked in the failure queue (``failure_queue_url``) for a replay once the whitelist is fixed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from qqbus.actions import Action, Result
from qqbus.senders.json_http import Retrying, Unavailable
from qqbus.senders.outcome import failed
from qqbus.senders.parking import park, parked_record, should_park
from qqbus.senders.qq import QQ_API_BASE, QQ_TOKEN_URL, QQApi, QqSend, deliver, whitelist_hint

from qqbus_relay.actions import ActionQueue, Later
from qqbus_relay.blocking import call_in_daemon_thread

log = logging.getLogger("qqbus_relay.qq_actions")

#: Seconds one delivery may spend retrying (the queue's visibility timeout is 60 s).
DELIVERY_DEADLINE_S = 30.0
RELAY_FUNCTION_ARN = "qqbus-relay"


@dataclass
class QqCredentials:
    """The bot whose actions this relay performs, and where its API is."""

    app_id: str
    secret: str
    api_base: str = QQ_API_BASE
    token_url: str = QQ_TOKEN_URL


class QqActions(ActionQueue[QqSend]):
    """Consumes ``QqRelayActionQueue``: each prepared send delivered once, from this host."""

    name = "qq-actions"

    def __init__(
        self,
        *,
        credentials: QqCredentials,
        failure_queue_url: str | None = None,
        retrying: Retrying | None = None,
        **queue: Any,
    ) -> None:
        super().__init__(**queue)
        self.credentials = credentials
        self.failure_queue_url = failure_queue_url
        self.retrying = retrying or Retrying()

    def parse(self, body: str) -> tuple[Action, QqSend]:
        send = QqSend.model_validate_json(body)
        return send.action, send

    async def perform(self, action: Action, job: QqSend) -> Result:
        creds = self.credentials
        if action.bot_id != creds.app_id:
            return failed(
                action,
                "no_secret",
                f"this relay holds the secret of AppID {creds.app_id}, not {action.bot_id}",
                mode="relay",
            )
        api = QQApi(
            creds.app_id,
            creds.secret,
            creds.api_base.rstrip("/"),
            creds.token_url,
            self.retrying,
            time.monotonic() + DELIVERY_DEADLINE_S,
        )
        hint = whitelist_hint(egress="relay", egress_ip="")
        try:
            result = await call_in_daemon_thread(
                lambda: deliver(job, api, whitelist_hint=hint), name="qqbus-relay-qq-send"
            )
        except Unavailable as exc:
            raise Later("unavailable", str(exc)) from exc
        return result.model_copy(update={"mode": "relay"}) if result.mode is None else result

    async def after_report(self, action: Action, result: Result) -> None:
        if not should_park(result):
            return
        log.error("QQ refused %s from this host: %s", action.action_id, result.message)
        if not self.failure_queue_url:
            log.error(
                "no --failure-queue: %s is not parked; its action event is in the bus archive",
                action.action_id,
            )
            return
        record = parked_record(action, result, function_arn=RELAY_FUNCTION_ARN)
        try:
            await call_in_daemon_thread(lambda: park(self.sqs, str(self.failure_queue_url), record))
        except Exception as exc:  # reported already; the archive still holds the action event
            log.error("could not park %s in the failure queue: %s", action.action_id, exc)
            return
        self.stats.parked += 1
