"""Progress on stderr: one line per step with the elapsed time, and peak memory."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def self_peak_rss() -> int | None:
    """Peak resident memory of this process in bytes (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(peak if sys.platform == "darwin" else peak * 1024)


class Progress:
    """Writes ``[  12.3s] message`` lines; quiet=True writes nothing (library use)."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._quiet = quiet
        self._start = time.monotonic()
        self.peak_rss: int | None = self_peak_rss()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def note_peak(self, rss: int | None) -> None:
        if rss is not None:
            self.peak_rss = max(self.peak_rss or 0, rss)

    def step(self, message: str) -> None:
        if not self._quiet:
            print(f"[{self.elapsed:7.1f}s] {message}", file=self._stream, flush=True)
