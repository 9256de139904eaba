"""One process per run directory: an exclusive lock on ``<run_dir>/.lock`` holding the owner's PID.

Two runs of the same config share a run directory (its name is the config's hash); without a lock they would
compute every stage over each other. The lock is a POSIX ``flock``: the kernel releases it when the process
ends, however it ends (Ctrl-C, ``kill -9``, a crash), so a stale lock never blocks a later run. The lock file
itself stays (deleting it would let two processes lock two different files of the same name).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from ..errors import RunError

LOCK_NAME = ".lock"


class RunLock:
    """``with RunLock(run_dir):`` holds the run directory or raises :class:`RunError` naming the PID that does."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RunError(f"run directory {self.path.parent} is in use by another stylekg process (PID {holder})",
                           hint="wait for it to finish, or stop that process; a re-run then resumes") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
