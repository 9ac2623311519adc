"""Resident memory (RSS) of a process: a reading now, and the peak over a stretch of time.

Pure: no pytest.  A model's memory shows up in the process that runs it: this pytest
process for the in-process runtime, or a server process (by pid).  The OS's own high-water
mark (VmHWM) counts from process start, so it cannot tell one model from the previous one;
we sample instead.  A pid that cannot be read gives None ("n/a"), never 0.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType
from typing import Self

import psutil

DEFAULT_INTERVAL_S = 0.05


def current_rss(pid: int | None = None) -> int | None:
    """RSS in bytes of ``pid`` (default: this process), or None when it cannot be read."""
    try:
        return int(psutil.Process(os.getpid() if pid is None else pid).memory_info().rss)
    except (psutil.Error, OSError, ValueError):
        # ValueError: psutil rejects negative pids.
        return None


# The kernel counts a process's CPU time in clock ticks (10 ms at the usual 100 Hz).
CPU_TICK_S = 1.0 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)
# A request's CPU time is kept only when it spans this many ticks (a 10 % resolution):
# below that, a per-token figure would be mostly rounding.
MIN_CPU_TICKS = 10


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` so far, in seconds, or None.

    The process total, threads that have ended included (summing the live threads'
    ``schedstat`` is finer, but loses the time of a thread that ended between two
    readings: the SDK's web service runs requests on short-lived threads)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except (psutil.Error, OSError, ValueError):
        return None
    return float(times.user + times.system)


def measurable_cpu(before: float | None, after: float | None) -> float | None:
    """The CPU time between two readings, or None when unknown or too short to measure."""
    if before is None or after is None:
        return None
    spent = after - before
    return spent if spent >= MIN_CPU_TICKS * CPU_TICK_S else None


class RssSampler:
    """Peak RSS of one process, sampled from a daemon thread every ``interval_s``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.  A sample is also
    taken at start and at stop, so even a very short stretch has a peak.  Only the
    sampler thread writes the peak while it runs; start/stop touch it only before the
    thread starts and after it is joined, so no lock is needed.
    """

    def __init__(self, pid: int | None = None, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.pid = os.getpid() if pid is None else pid
        self.interval_s = interval_s
        self._peak: int | None = None
        self._samples = 0
        self._process: psutil.Process | None = None
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def peak_bytes(self) -> int | None:
        """The highest RSS seen so far, or None when the process could not be read."""
        return self._peak

    @property
    def samples(self) -> int:
        """How many readings succeeded."""
        return self._samples

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("RssSampler is already running")
        try:
            self._process = psutil.Process(self.pid)
        except (psutil.Error, ValueError):
            self._process = None
        self._stop_event.clear()
        if self._sample():
            self._thread = threading.Thread(
                target=self._run, name=f"pytest-foundry-rss-{self.pid}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> int | None:
        """Stop sampling, join the thread and return the peak (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop_event.set()
            thread.join()
            self._sample()
        return self._peak

    def _run(self) -> None:
        # Event.wait returns True as soon as stop() sets it, so stop never waits a full interval.
        while not self._stop_event.wait(self.interval_s):
            if not self._sample():
                return

    def _sample(self) -> bool:
        """Record one reading; False when the process is gone or unreadable."""
        if self._process is None:
            return False
        try:
            rss = int(self._process.memory_info().rss)
        except (psutil.Error, OSError):
            return False
        self._samples += 1
        if self._peak is None or rss > self._peak:
            self._peak = rss
        return True

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
