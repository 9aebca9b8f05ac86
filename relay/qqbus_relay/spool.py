"""An append-only file of bus entries waiting for the bus, drained in order.

``spool.jsonl`` holds one entry per line; ``spool.offset`` the byte offset up to which lines
were sent (or refused for good). Both survive a restart, so a relay that dies during an outage
sends the rest when it starts again. Once everything is drained both files are emptied, and a
long-lived spool is compacted, so the file never grows past what is still pending by much.

A line that is not an entry (torn by a crash in the middle of a write, or damaged on disk) is
moved to ``spool.quarantine`` with its byte offset logged, and the drain goes on: one bad line
never stops the spool. The spool is capped at ``max_bytes`` of pending entries; ``append`` says
which entries did not fit, and the caller decides what that means (the publisher drops them
loudly). Offsets only ever move in the safe direction: a crash between two writes can make the
spool send an entry again (handlers are idempotent), never skip one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("qqbus_relay.spool")

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: Compact once this many bytes are drained and they outweigh what is still pending.
COMPACT_AT = 8 * 1024 * 1024
ENTRY_KEYS = ("Source", "DetailType", "Detail")


class SpoolInUse(RuntimeError):
    """Another relay holds this spool directory."""


def encode_line(record: Any) -> bytes:
    """One JSON line. A lone surrogate (a JS implementation that cut an emoji in half) is kept
    as it came: written with ``surrogatepass``, read back the same way."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass") + b"\n"


def decode_entry(line: bytes) -> dict[str, Any] | str:
    """The entry on ``line``, or why it is not one."""
    try:
        entry = json.loads(line.decode("utf-8", "surrogatepass"))
    except ValueError as exc:
        return f"not JSON: {exc}"
    if not isinstance(entry, dict):
        return f"a JSON {type(entry).__name__}, not an entry"
    missing = [k for k in ENTRY_KEYS if not isinstance(entry.get(k), str)]
    return f"no {', '.join(missing)}" if missing else entry


def lock_directory(directory: Path) -> IO[str]:
    """Hold ``directory/relay.lock`` for the life of the returned file, or raise ``SpoolInUse``.

    Two relays sharing a spool would send each other's entries and corrupt the offset.
    """
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / "relay.lock", "a+")  # noqa: SIM115 - held until the relay stops
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise SpoolInUse(
            f"the spool directory {directory} is in use by another relay (pid {holder}); "
            "give each relay its own --spool-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


class Spool:
    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "spool.jsonl"
        self.offset_path = directory / "spool.offset"
        self.rejected_path = directory / "rejected.jsonl"
        self.quarantine_path = directory / "spool.quarantine"
        self.max_bytes = max_bytes
        self.full = False  # an entry did not fit, and nothing was drained since
        self.quarantined = 0
        self.path.touch(exist_ok=True)
        self._repair_tail()
        self._size = self.path.stat().st_size
        self._offset = self._read_offset()
        if self._offset > self._size:
            log.warning(
                "spool offset %d is past the end of %s: sending it all again", self._offset, self.path
            )
            self._offset = 0
            self._write_offset(0)
        self._pending = self._count_pending()

    # --- state ------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Entries spooled and not yet accepted by the bus."""
        return self._pending

    @property
    def pending_bytes(self) -> int:
        return self._size - self._offset

    # --- writing ----------------------------------------------------------------------------

    def append(self, entries: list[dict[str, Any]]) -> list[bool]:
        """Write entries durably (flushed and fsynced) after those already spooled.

        Returns, per entry, whether it was written: one that would take the pending bytes past
        ``max_bytes`` is not.
        """
        kept: list[bool] = []
        if not entries:
            return kept
        with open(self.path, "ab") as fh:
            for entry in entries:
                line = encode_line(entry)
                fits = self.pending_bytes + len(line) <= self.max_bytes
                if fits:
                    fh.write(line)
                    self._size += len(line)
                kept.append(fits)
            if any(kept):
                fh.flush()
                os.fsync(fh.fileno())
        self._pending += sum(kept)
        self.full = self.full or not all(kept)
        return kept

    def reject(self, entry: dict[str, Any], code: str, message: str) -> None:
        """Keep an entry the bus refused for good (never retried), with the reason."""
        with open(self.rejected_path, "ab") as fh:
            fh.write(encode_line({"error": code, "message": message, "entry": entry}))

    # --- reading ----------------------------------------------------------------------------

    def peek(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` of the oldest pending entries, each with the offset just past it.

        Bad lines at the head are quarantined and passed over here; one met after a good entry
        ends the run, so the next ``peek`` finds it at the head.
        """
        out: list[tuple[int, dict[str, Any]]] = []
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            while len(out) < limit:
                start = fh.tell()
                line = fh.readline()
                if not line:
                    break
                if not line.strip():
                    if not out:
                        self._move_to(fh.tell(), 0)
                    continue
                entry = decode_entry(line)
                if isinstance(entry, str):
                    if out:
                        break
                    self._quarantine(line, start, entry)
                    self._move_to(fh.tell(), 1)
                    continue
                out.append((fh.tell(), entry))
            if not out and self._pending and fh.tell() >= self._size:  # never spin on a wrong count
                log.warning("the spool counted %d entries past its end: resynced", self._pending)
                self._move_to(fh.tell(), self._pending)
        return out

    def advance(self, offset: int, count: int) -> None:
        """Mark everything before ``offset`` (``count`` entries) as done with."""
        self._move_to(offset, count, compact=True)

    # --- internals --------------------------------------------------------------------------

    def _move_to(self, offset: int, count: int, *, compact: bool = False) -> None:
        self.full = self.full and offset == self._offset
        self._offset = offset
        self._pending -= count
        if self._pending <= 0:
            self._pending = 0
            self._write_offset(0)  # first: a crash before the truncate re-sends, never skips
            with open(self.path, "wb"):
                pass
            self._offset = self._size = 0
        elif compact and self._offset >= COMPACT_AT and self._offset >= self.pending_bytes:
            self._compact()
        else:
            self._write_offset(offset)

    def _compact(self) -> None:
        """Rewrite the pending tail as the whole file (a crash midway re-sends, never skips)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(self.path, "rb") as src, open(tmp, "wb") as dst:
            src.seek(self._offset)
            shutil.copyfileobj(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        self._write_offset(0, durable=True)
        os.replace(tmp, self.path)
        self._size -= self._offset
        self._offset = 0

    def _read_offset(self) -> int:
        try:
            text = self.offset_path.read_text().strip()
        except FileNotFoundError:
            return 0
        try:
            return max(0, int(text or 0))
        except ValueError:
            log.warning("unreadable spool offset %r: sending the spool from its start", text[:40])
            return 0

    def _write_offset(self, value: int, *, durable: bool = False) -> None:
        tmp = self.offset_path.with_name(self.offset_path.name + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(str(value))
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, self.offset_path)

    def _count_pending(self) -> int:
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            return sum(1 for line in fh if line.strip())

    def _quarantine(self, raw: bytes, at: int, reason: str) -> None:
        self.quarantined += 1
        with open(self.quarantine_path, "ab") as fh:
            fh.write(raw if raw.endswith(b"\n") else raw + b"\n")
        log.error(
            "spool line at byte %d of %s is not an entry (%s): moved to %s, %d bytes",
            at,
            self.path,
            reason[:200],
            self.quarantine_path,
            len(raw),
        )

    def _repair_tail(self) -> None:
        """A last line without its newline was cut by a crash: keep it if whole, else quarantine it.

        Left as it is, the next append would glue a good entry onto it.
        """
        with open(self.path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            start = size
            while start > 0:
                step = min(65536, start)
                fh.seek(start - step)
                chunk = fh.read(step)
                newline = chunk.rfind(b"\n")
                if newline >= 0:
                    start = start - step + newline + 1
                    break
                start -= step
            fh.seek(start)
            tail = fh.read()
            entry = decode_entry(tail)
            if isinstance(entry, dict):
                fh.seek(size)
                fh.write(b"\n")
                log.warning("the last spool line had no newline but is a whole entry: kept")
            else:
                self._quarantine(tail, start, f"torn by a crash: {entry}")
                fh.truncate(start)
            fh.flush()
            os.fsync(fh.fileno())
