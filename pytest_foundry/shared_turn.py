"""Timed requests from the workers of one run never overlap (pytest-xdist ``-n N``).

Pure: no pytest.  Each worker measures its own models, but they share the machine's
CPUs: a request timed while another worker generates would be slowed by it.  So the
workers hold one turn, a reader/writer lock on two files in a folder the controller
makes for the run (``flock``, as report_lock.py does):

* a *timed* request (a latency round, a model's cold request) takes the turn alone
  (exclusive): nothing else generates while it is measured;
* *untimed* work (a load, warm-up requests, output and snapshot tests' requests) takes
  it shared: any number at once, in parallel, but never during a timed request.

Writers come first: a timed request that waits holds the *gate* file, so no new untimed
work starts until it has had its turn (with plain flock, back-to-back untimed requests
of two workers could keep it waiting for ever).  Where the platform has no ``flock``
(Windows), the turn is a no-op, and the run says so.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TURN_FILE = "turn.lock"
GATE_FILE = "gate.lock"


@dataclass
class TurnStats:
    timed_turns: int = 0
    untimed_turns: int = 0
    waited_s: float = 0.0  # time timed requests spent waiting for the turn


class SharedTurn:
    """``with turn.take(timed=True): request()``: exclusive for timed work, shared otherwise."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stats = TurnStats()
        self._turn: IO[str] | None = None
        self._gate: IO[str] | None = None
        try:
            import fcntl  # noqa: F401
        except ImportError:  # Windows
            self.available = False
        else:
            self.available = True

    def _files(self) -> tuple[IO[str], IO[str]]:
        if self._turn is None or self._gate is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._turn = (self.folder / TURN_FILE).open("a+", encoding="utf-8")
            self._gate = (self.folder / GATE_FILE).open("a+", encoding="utf-8")
        return self._turn, self._gate

    @contextlib.contextmanager
    def take(self, timed: bool = True) -> Iterator[None]:
        if not self.available:
            yield
            return
        import fcntl

        turn, gate = self._files()
        started = time.perf_counter()
        # The gate: a waiting timed request holds it, so untimed work queues behind it.
        fcntl.flock(gate.fileno(), fcntl.LOCK_EX)
        try:
            fcntl.flock(turn.fileno(), fcntl.LOCK_EX if timed else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate.fileno(), fcntl.LOCK_UN)
        if timed:
            self.stats.timed_turns += 1
            self.stats.waited_s += time.perf_counter() - started
        else:
            self.stats.untimed_turns += 1
        try:
            yield
        finally:
            fcntl.flock(turn.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        for handle in (self._turn, self._gate):
            if handle is not None:
                handle.close()
        self._turn = self._gate = None
