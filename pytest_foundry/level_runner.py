"""One concurrency level: N closed-loop streams of requests on one timeline.

Pure: no pytest.  The pool hands ``run_level`` a ``send`` that makes one streamed request
to a serving model; this module keeps ``streams`` of them in flight (each stream a thread
that sends its next request as soon as its last one ended, each request on a connection
of its own) until ``requests`` are spent, and watches the serving process's memory and
CPU time over the measured part.  The figures are computed in concurrency.py.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_foundry.concurrency import TimedRequest, from_clock
from pytest_foundry.errors import ConnectionFailed, ModelError, RequestTimeout, one_line

if TYPE_CHECKING:
    from pytest_foundry.runtime.streaming import Generation


@dataclass(frozen=True)
class LevelRun:
    """What one concurrency level sent: its requests on one timeline, and the serving
    process's peak memory and CPU time over the whole level (None: not measured)."""

    requests: tuple[TimedRequest, ...]
    peak_rss: int | None
    cpu_s: float | None


def run_level(
    send: Callable[[], Generation],
    *,
    streams: int,
    requests: int,
    warmup: int,
    turn: AbstractContextManager[None],
    pid: int | None,
) -> tuple[LevelRun, ModelError | None]:
    """The level's requests, and the timeout or lost connection that stopped it (None
    when none did).

    First every stream sends ``warmup`` untimed requests, all streams together, so the
    measured ones do not pay for the runtime growing its caches for more streams; the
    level's clock starts when the last stream has finished its warm-up.  The whole level
    runs inside ``turn`` (one lockstep turn: the partner never measures while these
    streams compete for the machine).  A request that fails is kept on the timeline with
    its one-line error; a timeout or a lost connection stops the level, since later
    requests would meet the same fate.
    """
    from pytest_foundry.memory import RssSampler, cpu_seconds, measurable_cpu

    numbers = itertools.count()
    lock = threading.Lock()
    stop = threading.Event()
    done: list[TimedRequest] = []
    fatal: list[ModelError] = []
    # The level's start and the serving process's CPU time then: set when the warm-ups are over.
    clock = [time.perf_counter_ns()]
    cpu_start: list[float | None] = [None]

    def start_measuring() -> None:
        cpu_start[0] = cpu_seconds(pid) if pid is not None else None
        clock[0] = time.perf_counter_ns()

    start_line = threading.Barrier(streams)
    measure_line = threading.Barrier(streams, action=start_measuring)

    def failed(exc: Exception) -> str:
        """The one-line error; a timeout or a lost connection also stops the level."""
        if isinstance(exc, RequestTimeout | ConnectionFailed):
            with lock:
                fatal.append(exc)
            stop.set()
        return one_line(str(exc)) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"

    def stream(index: int) -> None:
        try:
            start_line.wait()
            for _ in range(warmup):
                if stop.is_set():
                    break
                try:
                    send()
                except Exception as exc:  # every stream must reach the measure line
                    failed(exc)
            measure_line.wait()
        except threading.BrokenBarrierError:  # the level was interrupted before it began
            return
        level_start_ns = clock[0]
        while not stop.is_set():
            with lock:
                if next(numbers) >= requests:
                    return
            sent_ns = time.perf_counter_ns()
            try:
                generation = send()
            except Exception as exc:  # kept on the timeline, whatever it was
                error = failed(exc)
                with lock:
                    done.append(
                        from_clock(index, level_start_ns, sent_ns, time.perf_counter_ns(), error=error)
                    )
                continue
            metrics = generation.metrics
            start_ns = generation.start_ns if generation.start_ns is not None else sent_ns
            answered = from_clock(
                index,
                level_start_ns,
                start_ns,
                start_ns + round(metrics.e2e_s * 1e9),
                ttft_s=metrics.ttft_s,
                tpot_s=metrics.tpot_s,
                output_tokens=metrics.output_tokens,
            )
            with lock:
                done.append(answered)

    threads = [
        threading.Thread(target=stream, args=(index,), name=f"pytest-foundry-stream-{index}", daemon=True)
        for index in range(streams)
    ]
    cpu: float | None = None
    with turn, RssSampler(pid) if pid is not None else nullcontext() as sampler:
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        except BaseException:  # Ctrl-C: no new requests; those in flight end at their deadline
            stop.set()
            start_line.abort()
            measure_line.abort()
            raise
        if pid is not None:
            cpu = measurable_cpu(cpu_start[0], cpu_seconds(pid))
    peak = sampler.peak_bytes if sampler is not None else None
    ordered = tuple(sorted(done, key=lambda r: (r.start_s, r.stream)))
    return LevelRun(ordered, peak, cpu), (fatal[0] if fatal else None)
