"""RSS readings and the sampled peak of a process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from pytest_foundry.memory import RssSampler, current_rss

# Far above any Linux pid_max (4,194,304) and Windows pids: never a live process.
DEAD_PID = 2**31 - 2
MIB = 1 << 20


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("pytest-foundry-rss-")]


def test_current_rss_of_this_process_is_plausible() -> None:
    rss = current_rss()
    assert rss is not None
    assert 10 * MIB < rss < 64 * 1024 * MIB


def test_unreadable_pid_is_none_never_zero() -> None:
    assert current_rss(DEAD_PID) is None
    assert current_rss(-5) is None
    with RssSampler(DEAD_PID) as sampler:
        pass
    assert sampler.peak_bytes is None
    assert sampler.samples == 0


def test_peak_catches_a_short_allocation_that_is_freed_again() -> None:
    before = current_rss()
    assert before is not None
    with RssSampler(interval_s=0.01) as sampler:
        # Filled bytes (not zeros), so the pages are really touched and resident.
        block = b"\x01" * (200 * MIB)
        time.sleep(0.1)
        del block
        time.sleep(0.05)
    assert sampler.peak_bytes is not None
    assert sampler.peak_bytes >= before + 150 * MIB
    assert sampler.samples >= 3


def test_samples_another_process_by_pid() -> None:
    code = "import time; block = b'\\x01' * (120 << 20); print('ready', flush=True); time.sleep(0.3)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        with RssSampler(child.pid, interval_s=0.02) as sampler:
            time.sleep(0.1)
        assert sampler.pid == child.pid
        assert sampler.peak_bytes is not None
        assert sampler.peak_bytes >= 120 * MIB
    finally:
        child.wait(timeout=10)


def test_process_that_exits_while_sampled_keeps_its_peak_and_stops_the_thread() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    sampler = RssSampler(child.pid, interval_s=0.02).start()
    child.wait(timeout=10)
    time.sleep(0.1)
    peak = sampler.stop()
    assert peak is not None
    assert peak > 0
    assert not _sampler_threads()


def test_stop_joins_the_thread_promptly_and_is_idempotent() -> None:
    sampler = RssSampler(interval_s=5.0).start()
    thread = next(t for t in _sampler_threads() if t.name.endswith(str(os.getpid())))
    assert thread.daemon
    started = time.perf_counter()
    first = sampler.stop()
    # Stopping wakes the sampler at once instead of waiting out its 5 s interval.
    assert time.perf_counter() - started < 1.0
    assert not thread.is_alive()
    assert sampler.stop() == first
    assert not sampler.running
    assert not _sampler_threads()


def test_a_sampler_cannot_run_twice_at_once_but_can_restart() -> None:
    sampler = RssSampler().start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            sampler.start()
    finally:
        sampler.stop()
    sampler.start()
    assert sampler.stop() is not None


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        RssSampler(interval_s=0)


def test_cpu_seconds_count_the_work_of_another_process():
    """A model host is read before and after a request: its CPU time in between, threads
    that ended included, to the kernel's tick."""
    import subprocess
    import sys
    import time

    from pytest_foundry.memory import CPU_TICK_S, cpu_seconds, measurable_cpu

    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, threading, time\n"
            "sys.stdin.readline()\n"
            "def work():\n"
            # 0.3 s of CPU time (its own clock, so a busy machine cannot shorten it) on a
            # thread that then ends.
            "    while time.thread_time() < 0.3: pass\n"
            "t = threading.Thread(target=work); t.start(); t.join()\n"
            "print('done', flush=True)\n"
            "sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)  # let it start and block on stdin
        before = cpu_seconds(worker.pid)
        assert worker.stdin is not None
        assert worker.stdout is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
        assert worker.stdout.readline().strip() == "done"
        after = cpu_seconds(worker.pid)
    finally:
        worker.kill()
        worker.wait()
    spent = measurable_cpu(before, after)
    assert spent is not None
    # Its thread has ended, and its time is still counted.
    assert 0.3 - 3 * CPU_TICK_S <= spent < 0.6


def test_too_little_cpu_time_to_measure_is_none():
    from pytest_foundry.memory import CPU_TICK_S, measurable_cpu

    assert measurable_cpu(1.0, 1.0 + 2 * CPU_TICK_S) is None
    assert measurable_cpu(None, 2.0) is None
    assert measurable_cpu(1.0, 1.5) == 0.5


def test_cpu_seconds_of_a_process_that_does_not_exist_is_none():
    from pytest_foundry.memory import cpu_seconds

    assert cpu_seconds(2**22 + 12345) is None
