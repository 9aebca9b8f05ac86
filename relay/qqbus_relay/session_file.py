"""A QQ gateway shard's session id and resume seq, kept beside the spool.

Held only in memory, both die with the process, and a restarted relay has to identify again:
the events the gateway sent while it was down are lost to it. On disk, a restarted relay sends
Resume with them, and the gateway replays what came after that seq while the session is still
valid (if not, it answers op 9 and the relay identifies). The file is replaced atomically, so a
kill (even SIGKILL) leaves the previous version or the new one, never half of one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("qqbus_relay.qq")


@dataclass(frozen=True)
class SavedSession:
    session_id: str
    seq: int
    saved_at: float


class SessionFile:
    def __init__(self, directory: Path, app_id: str, shard: int, shards: int) -> None:
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", app_id)
        self.path = directory / f"qq-session-{safe}-{shard}of{shards}.json"

    def load(self) -> SavedSession | None:
        """The saved session, or None (none saved, or unreadable: then identify)."""
        try:
            data = json.loads(self.path.read_text())
            saved = SavedSession(str(data["session_id"]), int(data["seq"]), float(data["saved_at"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s (%s): identifying", self.path, exc)
            return None
        return saved if saved.session_id and saved.seq >= 0 else None

    def save(self, session_id: str | None, seq: int) -> None:
        """Keep ``session_id`` and ``seq`` (no session: forget the file)."""
        if session_id is None:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"session_id": session_id, "seq": seq, "saved_at": time.time()}))
        os.replace(tmp, self.path)
