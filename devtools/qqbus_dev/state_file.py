"""What a running ``qqbus dev`` wrote about itself (``.qqbus/dev.json``), for the other commands.

One stack per state file: a stack holds an exclusive lock on ``<state file>.lock`` while it
runs (``claim``; the system lets it go when the process ends, however it ends), so a second
stack on the same file is refused before it writes anything, and stopping one stack never
deletes the file of another. A second stack beside the first gets its own folder
(``qqbus dev --state-dir``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from qqbus_dev.template import REPO_ROOT

STATE_FILE = REPO_ROOT / ".qqbus" / "dev.json"


class StateFileTaken(RuntimeError):
    """Another running ``qqbus dev`` owns this state file."""


def read_state(path: Path = STATE_FILE) -> dict[str, Any]:
    """The running stack's endpoints and secrets, or {} when none is running."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class Claim:
    """This process's hold on a state file (and on the data kept beside it) until ``release()``."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor lets the lock go
            self._fd = None


def claim(path: Path) -> Claim:
    """Hold ``path`` for this process, or raise ``StateFileTaken`` naming the stack that holds it.

    Raises
    ------
    StateFileTaken
        A live process holds the lock; the message says which stack and how to run another.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # no advisory locks here (Windows): one stack per file is on the user
        return Claim(path, None)
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        raise StateFileTaken(taken_message(path, holder)) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return Claim(path, fd)


def taken_message(path: Path, holder_pid: str = "") -> str:
    """One line: whose stack holds ``path``, where it listens, and how to run a second one."""
    state = read_state(path)
    pid = state.get("pid") or holder_pid or "?"
    where = ", ".join(str(state[k]) for k in ("http", "aws_endpoint") if state.get(k)) or "still starting"
    return (
        f"{path} belongs to a running `qqbus dev` (pid {pid}, {where}): stop it first, or run a"
        " second stack with its own state and ports, e.g. `qqbus dev --state-dir .qqbus/second"
        " --port 3001 --aws-port 4567`"
    )
