"""Atomic publishing: a folder is built under a hidden staging name beside its final
place, then renamed into place in one step.

So a reader sees either no folder or a complete one: an interrupted build leaves only a
``.NAME.partial-*`` folder, which never looks complete and is swept by the next build
(under the lock, so never while another process is still writing it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from pytest_foundry.convert.errors import OutputNotEmpty

PARTIAL = ".partial-"


def staging_path(final: Path) -> Path:
    """A fresh hidden sibling of ``final`` (same file system, so rename is atomic)."""
    return final.parent / f".{final.name}{PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"


def work_path(final: Path) -> Path:
    """A fresh hidden sibling for intermediate files; swept like a staging folder."""
    path = final.parent / f".{final.name}{PARTIAL}work-{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir(parents=True)
    return path


def check_output(final: Path, force: bool) -> None:
    """Raise OutputNotEmpty when ``final`` holds anything (unless ``force``)."""
    if final.is_file() or final.is_symlink():
        raise OutputNotEmpty(f"{final}: exists and is not a folder")
    if final.is_dir() and any(final.iterdir()) and not force:
        raise OutputNotEmpty(
            f"{final}: the output folder exists and is not empty (use --force to replace it)"
        )


def publish(staged: Path, final: Path, *, force: bool) -> None:
    """Move ``staged`` to ``final``; an old ``final`` is replaced only with ``force``."""
    check_output(final, force)
    if final.is_dir():
        # Out of the way first: a rename onto a non-empty folder fails.
        old = final.parent / f".{final.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        final.rename(old)
        try:
            staged.rename(final)
        except OSError:
            old.rename(final)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        staged.rename(final)


def sweep_partials(final: Path) -> list[Path]:
    """Remove staging folders of ``final`` left by interrupted builds; return them."""
    removed = []
    for path in final.parent.glob(f".{final.name}{PARTIAL}*"):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def locked(lock_file: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_file`` (POSIX); elsewhere, no lock.

    ``on_wait`` is called once when another process holds it (so callers can say why
    they seem to hang).
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: concurrent builds each publish; the rename keeps it safe
        yield
        return
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
