"""An append-only file of bus entries waiting for the bus, drained in order.

``spool.jsonl`` holds one entry per line; ``spool.offset`` the byte offset up to which lines
were accepted by the bus. Both survive a restart, so a relay that dies during an outage sends
the rest when it starts again. Once everything is drained both files are emptied.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class Spool:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "spool.jsonl"
        self.offset_path = directory / "spool.offset"
        self.rejected_path = directory / "rejected.jsonl"
        self.path.touch(exist_ok=True)
        self._offset = int(self.offset_path.read_text() or 0) if self.offset_path.exists() else 0
        self._pending = self._count_pending()

    def _count_pending(self) -> int:
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            return sum(1 for line in fh if line.strip())

    @property
    def pending(self) -> int:
        """Entries spooled and not yet accepted by the bus."""
        return self._pending

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Write entries durably (flushed and fsynced) after those already spooled."""
        if not entries:
            return
        with open(self.path, "ab") as fh:
            for entry in entries:
                fh.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._pending += len(entries)

    def peek(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` of the oldest pending entries, each with the offset just past it."""
        out: list[tuple[int, dict[str, Any]]] = []
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            while len(out) < limit:
                line = fh.readline()
                if not line:
                    break
                if line.strip():
                    out.append((fh.tell(), json.loads(line)))
        return out

    def advance(self, offset: int, count: int) -> None:
        """Mark everything before ``offset`` (``count`` entries) as accepted by the bus."""
        self._offset = offset
        self._pending -= count
        if self._pending <= 0:
            self._pending = 0
            self._offset = 0
            self.path.write_bytes(b"")
            self.offset_path.write_text("0")
        else:
            self.offset_path.write_text(str(offset))

    def reject(self, entry: dict[str, Any], code: str, message: str) -> None:
        """Keep an entry the bus refused for good (never retried), with the reason."""
        with open(self.rejected_path, "ab") as fh:
            record = {"error": code, "message": message, "entry": entry}
            fh.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
