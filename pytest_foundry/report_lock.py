"""One run at a time writes a report folder, so the folder always holds one run's set.

Pure: no pytest.  Two runs given one ``--foundry-report`` folder used to interleave
their files (each file atomic, the set not).  The run that comes second waits for the
first to finish writing, then writes its whole set; it says so.  The lock is an
advisory ``flock`` on a file beside the folder's contents (POSIX); where the platform
has none, runs write unlocked, as before.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from pytest_foundry.errors import FoundryError

LOCK_NAME = ".pytest-foundry.lock"
WAIT_TIMEOUT_S = 120.0
POLL_S = 0.05


class FolderBusy(FoundryError):
    """Another run kept the report folder past the wait."""


@contextlib.contextmanager
def report_folder_lock(folder: Path, timeout_s: float = WAIT_TIMEOUT_S) -> Iterator[str | None]:
    """Hold ``folder`` while a run writes its files; yields a note when another run had
    it first (None otherwise).  Raises FolderBusy after ``timeout_s``."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock
        yield None
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    with path.open("a+", encoding="utf-8") as handle:
        waited = False
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = _holder(path)
                    raise FolderBusy(
                        f"{folder}: another run{holder} is still writing it after {timeout_s:g} s"
                    ) from None
                waited = True
                time.sleep(POLL_S)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield (
                f"report folder {folder} was being written by another run: this run waited, "
                "then replaced it with its own complete set"
                if waited
                else None
            )
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        return f" (pid {int(path.read_text(encoding='utf-8').split()[0])})"
    return ""
