"""The sandbox: virtual users and groups that talk to the bot through the real ingress.

Users and groups are per protocol (QQ: openids; OneBot: numbers). What a user says becomes the
platform's own payload (``payloads``), signed as the platform signs it (``qqbus_dev.send``)
and posted to the stack's ingress, so it takes the path a real event takes. The conversation a
page shows is kept here: the user's lines as they are posted, the bot's as its actions are asked
for and their results come back (``on_action``), so a reload loses nothing.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from qqbus_dev.console import payloads
from qqbus_dev.console.payloads import NOTICE_SPECS, Protocol
from qqbus_dev.console.port import Posted

#: Entries kept per conversation.
MAX_ENTRIES = 500
_NAMES = ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy")


@dataclass(frozen=True)
class Bot:
    protocol: Protocol
    id: str
    via: str = "sandbox"  # sandbox | reverse WebSocket | QQ gateway

    @property
    def key(self) -> str:
        return f"{self.protocol}:{self.id}"


@dataclass(frozen=True)
class Person:
    protocol: Protocol
    id: str
    name: str


@dataclass(frozen=True)
class Group:
    protocol: Protocol
    id: str
    name: str


@dataclass
class Entry:
    """One line of a conversation: a user's message, the bot's, or what happened (system)."""

    id: str
    conversation: str
    who: str  # user | bot | system
    text: str
    name: str = ""
    status: str = ""  # sending | delivered | not_delivered | rejected | asked | sent | refused | failed
    note: str = ""
    event_id: str | None = None
    action_id: str | None = None
    at: float = field(default_factory=time.time)
    message: list[dict[str, Any]] | None = None  # the segments, for the page to render rich parts
    message_id: str | None = None  # the platform's id: what a quote or a recall names
    recalled: bool = False


def conversation_key(bot: Bot | str, *, group_id: str | None = None, user_id: str | None = None) -> str:
    """``qq:102000001:group:<openid>`` or ``onebot:123:user:456``: one bot's talk in one place."""
    bot_key = bot.key if isinstance(bot, Bot) else bot
    return f"{bot_key}:group:{group_id}" if group_id is not None else f"{bot_key}:user:{user_id}"


class SandboxError(ValueError):
    """A request that names something the sandbox does not have (a clear 4xx for the page)."""


class Sandbox:
    """Thread-safe. ``post(payload, bot)`` delivers a payload; ``publish(kind, data)`` tells pages.

    On QQ the sandbox plays the platform's part in membership too: QQ delivers a group's messages
    only to a bot that was added to the group, so a user cannot talk to the bot in a group it is
    not in. Membership follows the joins and leaves the bot was told of (``set_member``); for a
    pair it never saw, ``member_hint(bot_key, group_id)`` answers (the console reads the groups
    table, so a restarted stack with its state kept still knows).
    """

    def __init__(
        self,
        bots: list[Bot],
        post: Callable[[dict[str, Any], Bot, Callable[[str | None], None]], Posted],
        publish: Callable[[str, Any], int],
        extra_bots: Callable[[], list[Bot]] = list,
        member_hint: Callable[[str, str], bool] = lambda bot_key, group_id: False,
    ) -> None:
        self._bots = {b.key: b for b in bots}
        self._member_hint = member_hint
        self._members: dict[tuple[str, str], bool] = {}  # (bot key, group id) -> in the group
        self._post = post
        self._publish = publish
        self._extra_bots = extra_bots
        self._people: dict[tuple[str, str], Person] = {}
        self._groups: dict[tuple[str, str], Group] = {}
        self._conversations: dict[str, OrderedDict[str, Entry]] = {}
        self._entry_at: dict[str, str] = {}  # entry id -> conversation
        self._by_message: dict[tuple[str, str], str] = {}  # (bot key, platform message id) -> entry id
        self._numbers = itertools.count(1)
        self._lock = threading.RLock()

    # --- who and where ----------------------------------------------------------------------

    def bots(self) -> list[Bot]:
        with self._lock:
            listed = dict(self._bots)
        for bot in self._extra_bots():
            listed.setdefault(bot.key, bot)
        return list(listed.values())

    def bot(self, key: str) -> Bot:
        found = next((b for b in self.bots() if b.key == key), None)
        if found is None:
            raise SandboxError(f"no bot {key!r}; the bots are {', '.join(b.key for b in self.bots())}")
        return found

    def add_bot(self, protocol: Protocol, bot_id: str) -> Bot:
        bot = Bot(protocol, bot_id)
        with self._lock:
            self._bots.setdefault(bot.key, bot)
        self._publish("sandbox", self.entities())
        return bot

    def add_person(self, protocol: Protocol, name: str = "") -> Person:
        with self._lock:
            n = next(self._numbers)
            name = name.strip() or _NAMES[(n - 1) % len(_NAMES)]
            person_id = payloads.qq_openid() if protocol == "qq" else str(20000000 + n)
            person = self._people[(protocol, person_id)] = Person(protocol, person_id, name)
        self._publish("sandbox", self.entities())
        return person

    def add_group(self, protocol: Protocol, name: str = "") -> Group:
        with self._lock:
            n = next(self._numbers)
            name = name.strip() or f"Group {n}"
            group_id = payloads.qq_openid() if protocol == "qq" else str(600000000 + n)
            group = self._groups[(protocol, group_id)] = Group(protocol, group_id, name)
        self._publish("sandbox", self.entities())
        return group

    def seen(self, protocol: Protocol, *, user_id: str | None, group_id: str | None, name: str = "") -> None:
        """Someone or some group the bot heard from outside the sandbox (relay, ``qqbus send``)."""
        added = False
        with self._lock:
            if user_id and (protocol, user_id) not in self._people:
                self._people[(protocol, user_id)] = Person(protocol, user_id, name or user_id)
                added = True
            if group_id and (protocol, group_id) not in self._groups:
                self._groups[(protocol, group_id)] = Group(protocol, group_id, f"group {group_id}")
                added = True
        if added:
            self._publish("sandbox", self.entities())

    def person(self, protocol: str, person_id: str) -> Person:
        with self._lock:
            found = self._people.get((protocol, person_id))
        if found is None:
            raise SandboxError(f"no {protocol} user {person_id!r}: add the user first")
        return found

    def group(self, protocol: str, group_id: str) -> Group:
        with self._lock:
            found = self._groups.get((protocol, group_id))
        if found is None:
            raise SandboxError(f"no {protocol} group {group_id!r}: add the group first")
        return found

    def set_member(self, bot_key: str, group_id: str, member: bool) -> None:
        """The QQ bot ``bot_key`` was added to (or removed from) ``group_id``; pages are told."""
        with self._lock:
            changed = self._members.get((bot_key, group_id)) is not member
            self._members[(bot_key, group_id)] = member
        if changed:
            self._publish("sandbox", self.entities())

    def is_member(self, bot_key: str, group_id: str) -> bool:
        """Whether QQ would deliver ``group_id``'s messages to the bot ``bot_key``."""
        with self._lock:
            known = self._members.get((bot_key, group_id))
        if known is None:
            hint = bool(self._member_hint(bot_key, group_id))
            with self._lock:
                known = self._members.setdefault((bot_key, group_id), hint)
        return known

    def entities(self) -> dict[str, Any]:
        """Bots, people, groups (a QQ group with ``members``: the bots in it) and group notices."""
        bots = self.bots()
        with self._lock:
            people = [asdict(p) for p in self._people.values()]
            groups = list(self._groups.values())
        qq_bots = [b.key for b in bots if b.protocol == "qq"]
        return {
            "bots": [{**asdict(b), "key": b.key} for b in bots],
            "people": people,
            "groups": [
                {
                    **asdict(g),
                    "members": [k for k in qq_bots if self.is_member(k, g.id)] if g.protocol == "qq" else [],
                }
                for g in groups
            ],
            "notices": [asdict(n) for n in payloads.NOTICES],
        }

    def restore(self, saved: dict[str, Any]) -> None:
        """The users, groups and added bots of a previous run (its ``entities()``), after a restart."""
        with self._lock:
            for p in saved.get("people") or []:
                self._people[(p["protocol"], p["id"])] = Person(p["protocol"], p["id"], p["name"])
            for g in saved.get("groups") or []:
                self._groups[(g["protocol"], g["id"])] = Group(g["protocol"], g["id"], g["name"])
            for b in saved.get("bots") or []:
                if b.get("via", "sandbox") == "sandbox":
                    self._bots.setdefault(f"{b['protocol']}:{b['id']}", Bot(b["protocol"], b["id"]))
            numbered = [int(p.id) - 20000000 for p in self._people.values() if p.id.isdigit()]
            numbered += [int(g.id) - 600000000 for g in self._groups.values() if g.id.isdigit()]
            taken = max([n for n in numbered if 0 < n < 1000000] + [len(self._people) + len(self._groups)])
            self._numbers = itertools.count(taken + 1)  # new users and groups get new numbers
        self._publish("sandbox", self.entities())

    # --- conversations ----------------------------------------------------------------------

    def record(self, entry: Entry) -> Entry:
        """Add or replace an entry (by id) and tell the pages."""
        with self._lock:
            entries = self._conversations.setdefault(entry.conversation, OrderedDict())
            entries[entry.id] = entry
            self._entry_at[entry.id] = entry.conversation
            self._index(entry)
            while len(entries) > MAX_ENTRIES:
                dropped, _ = entries.popitem(last=False)
                self._entry_at.pop(dropped, None)
        self._publish("chat", asdict(entry))
        return entry

    def entry(self, entry_id: str) -> Entry | None:
        with self._lock:
            key = self._entry_at.get(entry_id)
            return self._conversations[key].get(entry_id) if key else None

    def update(self, entry_id: str, **changes: Any) -> None:
        with self._lock:
            found = self.entry(entry_id)
            if found is None:
                return
            for name, value in changes.items():
                setattr(found, name, value)
            self._index(found)
        self._publish("chat", asdict(found))

    def _index(self, entry: Entry) -> None:
        """Remember which entry holds a platform message id (the caller holds the lock)."""
        if entry.message_id:
            bot_key = entry.conversation.split(":group:")[0].split(":user:")[0]
            self._by_message[(bot_key, entry.message_id)] = entry.id

    def by_message(self, bot_key: str, message_id: str) -> Entry | None:
        """The entry of the platform message ``message_id`` the bot ``bot_key`` sent or received."""
        with self._lock:
            entry_id = self._by_message.get((bot_key, str(message_id)))
            return self.entry(entry_id) if entry_id else None

    def recalled(self, bot_key: str, message_id: str, *, by: str) -> bool:
        """The message ``message_id`` was recalled (``by`` says who): its entry is marked."""
        found = self.by_message(bot_key, message_id)
        if found is None:
            return False
        self.update(found.id, recalled=True, note=f"recalled by {by}")
        return True

    def conversations(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {
                key: [asdict(e) for e in entries.values()] for key, entries in self._conversations.items()
            }

    def on_action(self, action: dict[str, Any], result: dict[str, Any] | None) -> None:
        """The bot asked for ``action`` (and, when given, got ``result``): its line in the chat."""
        target = action.get("target") or {}
        if action.get("protocol") not in ("qq", "onebot") or not (
            target.get("group_id") or target.get("user_id") or is_recall(action)
        ):
            return  # an action with no conversation (e.g. a OneBot call without a target)
        bot_key = f"{action['protocol']}:{action.get('bot_id')}"
        if is_recall(action):
            self._on_recall(bot_key, action, result)
            return
        key = conversation_key(bot_key, group_id=target.get("group_id"), user_id=target.get("user_id"))
        entry_id = f"action:{action.get('action_id')}"
        existing = self.entry(entry_id)
        text = message_text(action.get("message")) or f"[{action.get('action')}]"
        status, note = "asked", ""
        message = action.get("message") if isinstance(action.get("message"), list) else None
        message_id = None
        if result is not None:
            message_id = result.get("platform_message_id")
            status = str(result.get("outcome") or "sent")
            if status == "sent":
                note = ", ".join(str(v) for v in (result.get("mode"), _seq(result)) if v)
            else:
                note = str(result.get("reason") or "")
                if result.get("message"):
                    note += f" ({result['message']})"
        if existing is not None:
            changes = {"status": status, "note": note, "text": text, "message": message}
            if message_id and not existing.recalled:
                changes["message_id"] = str(message_id)
            self.update(entry_id, **changes)
            return
        self.record(
            Entry(
                entry_id,
                key,
                "bot",
                text,
                name="bot",
                status=status,
                note=note,
                event_id=(action.get("origin") or {}).get("event_id"),
                action_id=action.get("action_id"),
                message=message,
                message_id=None if message_id is None else str(message_id),
            )
        )

    def _on_recall(self, bot_key: str, action: dict[str, Any], result: dict[str, Any] | None) -> None:
        """A recall the bot asked for: once the platform took it, the message is marked recalled;
        a refused or failed one says so beside the message (a system line if it is not shown)."""
        if result is None:
            return
        message_id = str((action.get("params") or {}).get("message_id"))
        outcome = str(result.get("outcome") or "sent")
        if outcome == "sent":
            if self.recalled(bot_key, message_id, by="the bot"):
                return
            said = f"the bot recalled message {message_id} (not in the sandbox's chats)"
        else:
            said = f"the bot's recall of message {message_id} was {outcome}: {result.get('reason') or ''}"
            found = self.by_message(bot_key, message_id)
            if found is not None:
                self.update(found.id, note=said)
                return
        target = action.get("target") or {}
        if not (target.get("group_id") or target.get("user_id")):
            return  # a OneBot delete_msg names no chat: nowhere else to say it
        key = conversation_key(bot_key, group_id=target.get("group_id"), user_id=target.get("user_id"))
        self.record(Entry(f"action:{action.get('action_id')}", key, "system", said, status=outcome))

    # --- talking ------------------------------------------------------------------------------

    def say(self, bot_key: str, user_id: str, text: str, *, group_id: str | None, mention: bool) -> Entry:
        """``user_id`` writes ``text`` to the bot, in ``group_id`` or in private."""
        bot = self.bot(bot_key)
        person = self.person(bot.protocol, user_id)
        group = self.group(bot.protocol, group_id) if group_id is not None else None
        key = conversation_key(bot, group_id=group.id if group else None, user_id=person.id)
        shown = f"@bot {text}" if group and mention else text
        now = time.time()
        if bot.protocol == "qq":
            if group is not None and not self.is_member(bot.key, group.id):
                note = (
                    "the bot is not in this group (QQ delivers nothing there): add the bot to the group first"
                )
                entry = Entry(
                    f"local:{time.time_ns()}", key, "user", shown, person.name, "not_delivered", note
                )
                return self.record(entry)
            if group is not None and not mention:
                note = "QQ pushes a bot only the group messages that @ it: not sent"
                entry = Entry(
                    f"local:{time.time_ns()}", key, "user", shown, person.name, "not_delivered", note
                )
                return self.record(entry)
            payload = (
                payloads.qq_group_at_message(group_id=group.id, user_id=person.id, text=text, now=now)
                if group
                else payloads.qq_c2c_message(user_id=person.id, text=text, now=now)
            )
        elif group is not None:
            payload = payloads.onebot_group_message(
                self_id=int(bot.id),
                group_id=int(group.id),
                user_id=int(person.id),
                nickname=person.name,
                text=text,
                mention=mention,
                now=now,
            )
        else:
            payload = payloads.onebot_private_message(
                self_id=int(bot.id), user_id=int(person.id), nickname=person.name, text=text, now=now
            )
        said = Entry("", key, "user", shown, person.name, message_id=payloads.message_id_of(payload))
        return self._deliver(bot, payload, said)

    def click(
        self, bot_key: str, user_id: str, *, group_id: str | None, button_id: str, data: str, label: str
    ) -> Entry:
        """``user_id`` clicks a callback button of the bot's keyboard: the INTERACTION_CREATE a QQ
        client makes QQ push (only QQ has keyboards), through the same ingress as a message."""
        bot = self.bot(bot_key)
        if bot.protocol != "qq":
            raise SandboxError("keyboards are QQ's: a OneBot bot has no buttons to click")
        person = self.person(bot.protocol, user_id)
        group = self.group(bot.protocol, group_id) if group_id is not None else None
        key = conversation_key(bot, group_id=group.id if group else None, user_id=person.id)
        said = f"{person.name} clicked the button {label!r}"
        if group is not None and not self.is_member(bot.key, group.id):
            note = "the bot is not in this group (QQ delivers nothing there)"
            return self.record(
                Entry(f"local:{time.time_ns()}", key, "system", said, "", "not_delivered", note)
            )
        payload = payloads.qq_interaction(
            appid=bot.id,
            group_id=group.id if group else None,
            user_id=person.id,
            button_id=button_id,
            button_data=data,
            now=time.time(),
        )
        return self._deliver(bot, payload, Entry("", key, "system", said))

    def notice(
        self, bot_key: str, group_id: str, kind: str, *, operator_id: str, duration: int = 600
    ) -> Entry:
        """What a group does to the bot: add it, remove it, mute it, refuse its messages..."""
        bot = self.bot(bot_key)
        spec = NOTICE_SPECS.get((bot.protocol, kind))
        if spec is None:
            kinds = ", ".join(k for p, k in NOTICE_SPECS if p == bot.protocol)
            raise SandboxError(f"no {bot.protocol} notice {kind!r}; there are: {kinds}")
        group = self.group(bot.protocol, group_id)
        operator = self.person(bot.protocol, operator_id)
        now = time.time()
        if bot.protocol == "qq":
            payload = payloads.qq_group_notice(kind, group_id=group.id, operator_id=operator.id, now=now)
        else:
            payload = payloads.onebot_group_notice(
                kind,
                self_id=int(bot.id),
                group_id=int(group.id),
                operator_id=int(operator.id),
                now=now,
                duration=duration,
            )
        key = conversation_key(bot, group_id=group.id)
        entry = self._deliver(bot, payload, Entry("", key, "system", f"{operator.name} {spec.done}"))
        if bot.protocol == "qq" and kind in ("join", "leave") and entry.status == "delivered":
            self.set_member(bot.key, group.id, kind == "join")
        return entry

    def _deliver(self, bot: Bot, payload: dict[str, Any], entry: Entry) -> Entry:
        """Post ``payload``; ``entry`` is recorded (as sending) before the ingress can answer."""

        def before(event_id: str | None) -> None:
            entry.id = f"event:{event_id}" if event_id else f"local:{time.time_ns()}"
            entry.event_id = event_id
            entry.status = "sending"
            self.record(entry)

        posted = self._post(payload, bot, before)
        if posted.status < 400:
            self.update(entry.id, status="delivered", note=f"ingress {posted.status}")
        else:
            self.update(entry.id, status="rejected", note=f"ingress {posted.status}: {posted.body[:200]}")
        return entry


#: The actions that take a message back: QQ ``recall`` and OneBot ``delete_msg``.
RECALLS = {("qq", "recall"), ("onebot", "delete_msg")}


def is_recall(action: dict[str, Any]) -> bool:
    return (action.get("protocol"), action.get("action")) in RECALLS


def _seq(result: dict[str, Any]) -> str:
    return f"msg_seq {result['msg_seq']}" if result.get("msg_seq") is not None else ""


def message_text(message: Any) -> str:
    """Segments as a chat line: text as it is, ``@id`` for mentions, ``[image]`` and the like."""
    if isinstance(message, str):
        return message
    parts: list[str] = []
    for segment in message or []:
        if not isinstance(segment, dict):
            continue
        kind, data = segment.get("type"), segment.get("data") or {}
        if kind == "text":
            parts.append(str(data.get("text", "")))
        elif kind == "at":
            parts.append(f"@{data.get('qq')}")
        elif kind == "markdown" and isinstance(data.get("content"), str):
            parts.append(data["content"])  # the words a terminal line or a search needs
        elif kind != "reply":
            parts.append(f"[{kind}]")
    return "".join(parts)


def describe_payload(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Who said what where, for a message event from outside the sandbox; None if not a message."""
    if payload.get("post_type") == "message":
        sender = payload.get("sender")
        sender = sender if isinstance(sender, dict) else {}
        group = payload.get("group_id") if payload.get("message_type") == "group" else None
        return {
            "protocol": "onebot",
            "user_id": str(payload.get("user_id")),
            "group_id": None if group is None else str(group),
            "name": str(sender.get("card") or sender.get("nickname") or ""),
            "text": message_text(payload.get("message")),
        }
    d = payload.get("d") if isinstance(payload.get("d"), dict) else None
    if d is not None and payload.get("t") in ("GROUP_AT_MESSAGE_CREATE", "C2C_MESSAGE_CREATE"):
        author = d.get("author") if isinstance(d.get("author"), dict) else {}
        user = author.get("member_openid") or author.get("user_openid") or author.get("id")
        return {
            "protocol": "qq",
            "user_id": None if user is None else str(user),
            "group_id": d.get("group_openid"),
            "name": "",
            "text": str(d.get("content", "")).strip(),
        }
    return None


def dumps(payload: dict[str, Any]) -> bytes:
    """A payload's body bytes, as compact as a platform sends them."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
