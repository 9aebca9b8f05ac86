"""Events for tests: any QQ or OneBot event from a few fields, or from a real payload.

``OneBotEvents`` and ``QQEvents`` (``bot.onebot`` and ``bot.qq``) fill in what a real
implementation sends (the bot's id, a group, a user, the time now, a fresh message id), so a test
names only what matters to it; ``event_from`` takes a payload as the platform sent it, an
EventBridge event (an ``events/`` file), or a path to either. Every builder returns an ``Event``:
what the ingress would put on the bus, with the event id the ingress would give it.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qqbus.actions import MessageLike, to_message
from qqbus.detail import build_detail, onebot_event_id
from qqbus.events.message import Segment, to_cq
from qqbus.events.parse import UnknownPayload, parse_event

__all__ = ["Event", "OneBotEvents", "QQEvents", "event_from"]

#: The ids the events/ files use (and ``qqbus send``): the dev QQ AppID, a OneBot self_id, ...
QQ_APPID = "102000001"
QQ_GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
QQ_MEMBER = "E4F4AEA33253A2797FB897C50B81D7ED"
ONEBOT_SELF = 123456789
ONEBOT_GROUP = 987654321
ONEBOT_USER = 345678901

#: The field naming the second-level type, by OneBot post_type.
_TYPE_FIELD = {
    "message": "message_type",
    "notice": "notice_type",
    "request": "request_type",
    "meta_event": "meta_event_type",
}


@dataclass(frozen=True)
class Event:
    """An event as the bus carries it: ``source``, ``detail_type`` and the contract's ``detail``
    (``bot_id``, ``event_id``, ``transport``, ``received_at``, ``payload``)."""

    source: str
    detail_type: str
    detail: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        """The platform's JSON, as received (empty for an event that carries none)."""
        payload = self.detail.get("payload")
        return payload if isinstance(payload, dict) else {}

    @property
    def event_id(self) -> str:
        return str(self.detail["event_id"])

    @property
    def bot_id(self) -> str:
        return str(self.detail["bot_id"])

    def entry(self, bus_name: str) -> dict[str, Any]:
        """The PutEvents entry the ingress would make of it."""
        return {
            "Source": self.source,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, ensure_ascii=False),
            "EventBusName": bus_name,
        }

    def bus_event(self) -> dict[str, Any]:
        """The EventBridge event a rule hands a Lambda function."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": self.detail_type,
            "source": self.source,
            "account": "123456789012",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [],
            "detail": self.detail,
        }

    def __str__(self) -> str:
        sub_type = self.payload.get("sub_type")
        return f"{self.source} {self.detail_type}" + (f" ({sub_type})" if sub_type else "")


def _raw(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def event_from(
    data: dict[str, Any] | str | Path,
    *,
    bot_id: str | None = None,
    event_id: str | None = None,
    transport: str | None = None,
    received_at: int | None = None,
) -> Event:
    """An ``Event`` from a platform payload (a QQ dispatch or a OneBot event), an EventBridge
    event (``{"detail-type", "source", "detail"}``: an ``events/`` file), or a path to a JSON file
    holding either.

    QQ: the event id is the envelope ``id`` and the bot the dev AppID; OneBot: the bot is
    ``self_id`` and the id a hash of the body, as the ingress makes them.

    Raises
    ------
    ValueError
        When ``data`` is neither.
    """
    if isinstance(data, str | Path):
        data = json.loads(Path(data).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"an event is a JSON object, not {type(data).__name__}")
    if "detail" in data and "detail-type" in data:
        detail = dict(data["detail"])
        for key, value in (("bot_id", bot_id), ("event_id", event_id), ("transport", transport)):
            if value is not None:
                detail[key] = value
        return Event(str(data["source"]), str(data["detail-type"]), detail)
    try:
        parsed = parse_event(data)
    except UnknownPayload as exc:
        raise ValueError(f"not a QQ or OneBot event: {exc}") from None
    is_qq = parsed.source == "qq.official"
    if is_qq:
        bot, eid, via = QQ_APPID, str(data.get("id") or f"{data.get('t')}:{uuid.uuid4()}"), "webhook"
    else:
        bot, eid, via = str(data.get("self_id")), onebot_event_id(_raw(data)), "http_post"
    detail = build_detail(
        bot_id=bot_id or bot,
        event_id=event_id or eid,
        transport=transport or via,  # type: ignore[arg-type]
        payload=data,
        received_at=received_at,
    )
    return Event(parsed.source, parsed.detail_type, detail)


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """Keyword fields as payload fields: ``None`` leaves a field out."""
    return {k: v for k, v in fields.items() if v is not None}


def _segments(message: MessageLike | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A message as OneBot's segment array: text (as it is, never parsed as CQ codes), a
    ``Segment``, segment dicts, or a list of these."""
    if isinstance(message, str | Segment):
        return [s.model_dump() for s in to_message(message)]
    out = []
    for part in message:
        if isinstance(part, dict):
            out.append(Segment.model_validate(part).model_dump())
        else:
            out.extend(s.model_dump() for s in to_message(part))
    return out


class OneBotEvents:
    """OneBot v11 events of one bot (``self_id``), with a default group and user.

    Every builder takes the payload's own field names as keywords (extra ones are sent too;
    ``None`` leaves a field out) and ``time`` (default: now).
    """

    def __init__(
        self,
        self_id: int = ONEBOT_SELF,
        group_id: int = ONEBOT_GROUP,
        user_id: int = ONEBOT_USER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.self_id = self_id
        self.group_id = group_id
        self.user_id = user_id
        self.clock = clock
        self._message_ids = itertools.count(1001)

    def event(self, post_type: str, type_name: str, **fields: Any) -> Event:
        """Any OneBot event: ``post_type``, its type (``notice_type`` etc.) and the fields given."""
        payload: dict[str, Any] = {
            "time": int(self.clock()),
            "self_id": self.self_id,
            "post_type": post_type,
            _TYPE_FIELD.get(post_type, f"{post_type}_type"): type_name,
        }
        payload.update(_given(fields))
        return event_from(payload)

    def group_message(
        self,
        message: MessageLike | Iterable[dict[str, Any]],
        *,
        group_id: int | None = None,
        user_id: int | None = None,
        role: str | None = "member",
        at_bot: bool = False,
        message_id: int | None = None,
        sender: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Event:
        """A group message (``sub_type`` normal) saying ``message``; ``at_bot`` puts the bot's
        @-mention first; ``role`` (member, admin, owner) goes into ``sender``."""
        segments = _segments(message)
        if at_bot:
            segments = [Segment.at(self.self_id).model_dump(), *segments]
        user = user_id if user_id is not None else self.user_id
        return self.event(
            "message",
            "group",
            sub_type=fields.pop("sub_type", "normal"),
            message_id=message_id if message_id is not None else next(self._message_ids),
            group_id=group_id if group_id is not None else self.group_id,
            user_id=user,
            message=segments,
            raw_message=to_cq(Segment.model_validate(s) for s in segments),
            font=0,
            sender={"user_id": user, **_given({"role": role}), **(sender or {})},
            **fields,
        )

    def private_message(
        self,
        message: MessageLike | Iterable[dict[str, Any]],
        *,
        user_id: int | None = None,
        message_id: int | None = None,
        sender: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Event:
        """A private message (``sub_type`` friend) saying ``message``."""
        segments = _segments(message)
        user = user_id if user_id is not None else self.user_id
        return self.event(
            "message",
            "private",
            sub_type=fields.pop("sub_type", "friend"),
            message_id=message_id if message_id is not None else next(self._message_ids),
            user_id=user,
            message=segments,
            raw_message=to_cq(Segment.model_validate(s) for s in segments),
            font=0,
            sender={"user_id": user, **(sender or {})},
            **fields,
        )

    def notice(self, notice_type: str, **fields: Any) -> Event:
        """A notice: ``notice("group_ban", sub_type="ban", user_id=..., duration=60)``,
        ``notice("notify", sub_type="poke", target_id=...)``. ``group_id``, ``user_id`` and
        ``operator_id`` default to the default group and user (``None`` leaves one out: a
        private poke has no ``group_id``); a poke's ``target_id`` defaults to the bot."""
        defaults: dict[str, Any] = {
            "group_id": self.group_id,
            "user_id": self.user_id,
            "operator_id": self.user_id,
        }
        if notice_type == "notify":
            defaults["target_id"] = self.self_id
        if notice_type in ("friend_add", "friend_recall", "offline_file", "client_status"):
            defaults.pop("group_id")
        if notice_type in ("client_status", "essence"):
            defaults.pop("user_id")
        merged = {**defaults, **fields}
        return self.event("notice", notice_type, **merged)

    def poke(self, *, target_id: int | None = None, private: bool = False, **fields: Any) -> Event:
        """``notice.notify.poke``: the default user pokes ``target_id`` (default: the bot) in the
        default group (``group_id=`` another), or privately (``private=True``: no ``group_id``)."""
        if private:
            fields["group_id"] = None
        return self.notice(
            "notify",
            sub_type="poke",
            target_id=target_id if target_id is not None else self.self_id,
            **fields,
        )

    def request(self, request_type: str, **fields: Any) -> Event:
        """A request: ``request("friend", comment="hi", flag="f1")``, ``request("group",
        sub_type="add", ...)``; ``flag`` defaults to a fresh one, ``user_id`` (and for a group
        request ``group_id``) to the defaults."""
        defaults: dict[str, Any] = {"user_id": self.user_id, "comment": "", "flag": f"flag-{uuid.uuid4()}"}
        if request_type == "group":
            defaults["group_id"] = self.group_id
        return self.event("request", request_type, **{**defaults, **fields})

    def meta_event(self, meta_event_type: str, **fields: Any) -> Event:
        """A meta event: ``meta_event("lifecycle", sub_type="connect")``, ``meta_event("heartbeat")``."""
        return self.event("meta_event", meta_event_type, **fields)


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).astimezone().isoformat()


class QQEvents:
    """QQ official dispatches to one bot (``appid``), with a default group and member (openids).

    ``d`` fields are keywords (extra ones are sent too; ``None`` leaves a field out), and
    ``timestamp`` defaults to now.
    """

    def __init__(
        self,
        appid: str = QQ_APPID,
        group_openid: str = QQ_GROUP,
        member_openid: str = QQ_MEMBER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.appid = appid
        self.group_openid = group_openid
        self.member_openid = member_openid
        self.clock = clock
        self._ids = itertools.count(1)

    def dispatch(self, t: str, **d: Any) -> Event:
        """Any op 0 dispatch of type ``t`` with data ``d`` (an event id of its own)."""
        event_id = f"{t}:{uuid.uuid4()}"
        payload = {"op": 0, "t": t, "id": event_id, "d": _given(d)}
        return event_from(payload, bot_id=self.appid)

    def group_at_message(
        self, content: str, *, group_openid: str | None = None, member_openid: str | None = None, **d: Any
    ) -> Event:
        """GROUP_AT_MESSAGE_CREATE: a member @-mentions the bot with ``content`` (as QQ sends it,
        the mention itself left out)."""
        return self.dispatch(
            "GROUP_AT_MESSAGE_CREATE",
            **{
                "id": f"ROBOT1.0_test{next(self._ids)}",
                "content": content,
                "timestamp": _rfc3339(self.clock()),
                "group_openid": group_openid or self.group_openid,
                "author": {"member_openid": member_openid or self.member_openid},
                **d,
            },
        )

    def c2c_message(self, content: str, *, user_openid: str | None = None, **d: Any) -> Event:
        """C2C_MESSAGE_CREATE: a user messages the bot privately."""
        return self.dispatch(
            "C2C_MESSAGE_CREATE",
            **{
                "id": f"ROBOT1.0_test{next(self._ids)}",
                "content": content,
                "timestamp": _rfc3339(self.clock()),
                "author": {"user_openid": user_openid or self.member_openid},
                **d,
            },
        )

    def group_event(self, t: str, *, group_openid: str | None = None, **d: Any) -> Event:
        """GROUP_ADD_ROBOT, GROUP_DEL_ROBOT, GROUP_MSG_REJECT or GROUP_MSG_RECEIVE in a group."""
        return self.dispatch(
            t,
            **{
                "group_openid": group_openid or self.group_openid,
                "op_member_openid": self.member_openid,
                "timestamp": int(self.clock()),
                **d,
            },
        )

    def group_add_robot(self, **d: Any) -> Event:
        return self.group_event("GROUP_ADD_ROBOT", **d)

    def group_del_robot(self, **d: Any) -> Event:
        return self.group_event("GROUP_DEL_ROBOT", **d)

    def group_msg_reject(self, **d: Any) -> Event:
        return self.group_event("GROUP_MSG_REJECT", **d)

    def group_msg_receive(self, **d: Any) -> Event:
        return self.group_event("GROUP_MSG_RECEIVE", **d)

    def user_event(self, t: str, *, openid: str | None = None, **d: Any) -> Event:
        """FRIEND_ADD, FRIEND_DEL, C2C_MSG_REJECT or C2C_MSG_RECEIVE of a user."""
        return self.dispatch(
            t, **{"openid": openid or self.member_openid, "timestamp": int(self.clock()), **d}
        )

    def friend_add(self, **d: Any) -> Event:
        return self.user_event("FRIEND_ADD", **d)

    def friend_del(self, **d: Any) -> Event:
        return self.user_event("FRIEND_DEL", **d)

    def c2c_msg_reject(self, **d: Any) -> Event:
        return self.user_event("C2C_MSG_REJECT", **d)

    def c2c_msg_receive(self, **d: Any) -> Event:
        return self.user_event("C2C_MSG_RECEIVE", **d)
