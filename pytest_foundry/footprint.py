"""Disk footprint of a model: total size of its files, and one hash over names and bytes.

Pure: no pytest.  Model caches often link files (Hugging Face style snapshots are folders
of symlinks to blobs), so symlinks are followed, but each file is counted once in the
size (by device and inode) and each folder is entered once (no symlink loops).  The hash
covers every regular file under its relative name, in sorted order, so it is the same
wherever and in whatever order the files were written.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# 1 MiB reads: big enough for sha256 to run at full speed, small enough to keep memory flat.
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Footprint:
    bytes: int  # sum of the sizes of distinct regular files
    files: int  # regular files hashed (a file reachable under two names counts twice)
    sha256: str  # hex digest over (relative name, size, bytes) of every file, sorted by name


@dataclass(frozen=True)
class _File:
    relative: str  # POSIX-style name relative to the root
    path: Path
    size: int
    identity: tuple[int, int]  # (st_dev, st_ino)


def _walk(root: Path) -> Iterator[_File]:
    """Regular files under ``root``, following symlinks, each folder entered once."""
    root_stat = root.stat()
    if stat.S_ISREG(root_stat.st_mode):
        yield _File(root.name, root, root_stat.st_size, (root_stat.st_dev, root_stat.st_ino))
        return
    if not stat.S_ISDIR(root_stat.st_mode):
        raise NotADirectoryError(f"{root}: not a folder or regular file")
    seen_dirs = {(root_stat.st_dev, root_stat.st_ino)}
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=True)
                except (FileNotFoundError, NotADirectoryError):
                    continue  # a dangling symlink has no bytes
                relative = f"{prefix}{entry.name}"
                identity = (info.st_dev, info.st_ino)
                if stat.S_ISDIR(info.st_mode):
                    if identity not in seen_dirs:
                        seen_dirs.add(identity)
                        pending.append((Path(entry.path), f"{relative}/"))
                elif stat.S_ISREG(info.st_mode):
                    yield _File(relative, Path(entry.path), info.st_size, identity)


def folder_size(path: str | os.PathLike[str]) -> int:
    """Bytes of the distinct regular files under ``path`` (stat only, no reads).

    Raises OSError (e.g. FileNotFoundError) when ``path`` cannot be read.
    """
    seen: set[tuple[int, int]] = set()
    total = 0
    for file in _walk(Path(path)):
        if file.identity not in seen:
            seen.add(file.identity)
            total += file.size
    return total


def folder_footprint(path: str | os.PathLike[str]) -> Footprint:
    """Size and sha256 of the files under ``path`` (a folder, or a single file).

    Raises OSError (e.g. FileNotFoundError) when ``path`` cannot be read.
    """
    files = sorted(_walk(Path(path)), key=lambda f: f.relative)
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    seen: set[tuple[int, int]] = set()
    total = 0
    for file in files:
        if file.identity not in seen:
            seen.add(file.identity)
            total += file.size
        # Name and size delimit each file's bytes, so ("ab", "c") and ("a", "bc") differ.
        digest.update(f"{file.relative}\0{file.size}\0".encode())
        with file.path.open("rb", buffering=0) as handle:
            while read := handle.readinto(buffer):
                digest.update(view[:read])
    return Footprint(bytes=total, files=len(files), sha256=digest.hexdigest())
