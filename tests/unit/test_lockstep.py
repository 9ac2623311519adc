"""Two runs taking turns over a lockstep file: alternation, partners leaving, stale files."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from pytest_foundry.lockstep import Lockstep


def take_turns(lockstep: Lockstep, name: str, turns: int, log: list[str], finish: bool = True) -> None:
    for index in range(turns):
        with lockstep.turn():
            log.append(f"{name}{index}")
            time.sleep(0.002)  # a request: the partner must not sneak in meanwhile
            log.append(f"{name}{index}.end")
    if finish:
        lockstep.finish()
        log.append(f"{name}.finished")


def wait_for_host(host: Lockstep) -> None:
    deadline = time.monotonic() + 10
    while host.stats.seat is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert host.stats.seat == 0


def run_pair(path: Path, host_turns: int, guest_turns: int) -> tuple[list[str], Lockstep, Lockstep]:
    log: list[str] = []
    host, guest = Lockstep(path, join_timeout_s=10), Lockstep(path, join_timeout_s=10)
    host_thread = threading.Thread(target=take_turns, args=(host, "A", host_turns, log))
    guest_thread = threading.Thread(target=take_turns, args=(guest, "B", guest_turns, log))
    host_thread.start()
    wait_for_host(host)  # deterministic seats: the host is the one that arrives first
    guest_thread.start()
    host_thread.join(20)
    guest_thread.join(20)
    assert not host_thread.is_alive()
    assert not guest_thread.is_alive()
    return log, host, guest


def requests_in_order(log: list[str]) -> list[str]:
    return [entry for entry in log if not entry.endswith((".end", ".finished"))]


def test_two_runs_alternate_request_by_request(tmp_path: Path) -> None:
    log, host, guest = run_pair(tmp_path / "pair.lock", 4, 4)

    assert requests_in_order(log) == ["A0", "B0", "A1", "B1", "A2", "B2", "A3", "B3"]
    # No request starts before the other's has ended.
    for index in range(0, 16, 2):
        assert log[index + 1] == log[index] + ".end"
    assert (host.stats.seat, guest.stats.seat) == (0, 1)
    assert (host.stats.partnered_turns, guest.stats.partnered_turns) == (4, 4)
    assert host.stats.solo_turns == guest.stats.solo_turns == 0
    assert not (tmp_path / "pair.lock").exists()  # removed once the pair formed


def test_the_run_with_more_requests_goes_on_alone_and_the_other_waits_for_it(tmp_path: Path) -> None:
    log, _, guest = run_pair(tmp_path / "pair.lock", 2, 5)

    assert requests_in_order(log) == ["A0", "B0", "A1", "B1", "B2", "B3", "B4"]
    # The host finishes (reports, judge) only after the guest's last request.
    assert log.index("A.finished") > log.index("B4.end")
    assert (guest.stats.partnered_turns, guest.stats.solo_turns) == (2, 3)
    assert "lockstep (guest): 2 turns with the partner, 3 alone" in guest.summary()


def test_a_partner_that_dies_mid_run_leaves_the_survivor_alone(tmp_path: Path) -> None:
    path = tmp_path / "pair.lock"
    host, guest = Lockstep(path, join_timeout_s=10), Lockstep(path, join_timeout_s=10)
    hosting = threading.Thread(target=host.join)
    hosting.start()
    wait_for_host(host)
    guest.join()
    hosting.join(10)
    with host.turn():
        pass
    with guest.turn():
        pass
    guest.close()  # as a crash or Ctrl-C would: the socket closes, no goodbye

    started = time.monotonic()
    with host.turn():  # the turn the guest passed before it died
        pass
    with host.turn():  # would wait for a turn that never comes, but the socket is closed
        pass
    host.finish()
    assert time.monotonic() - started < 5
    assert (host.stats.partnered_turns, host.stats.solo_turns) == (2, 1)


def test_without_a_partner_a_run_measures_alone(tmp_path: Path) -> None:
    lockstep = Lockstep(tmp_path / "pair.lock", join_timeout_s=0.2)
    for _ in range(3):
        with lockstep.turn():
            pass
    lockstep.finish()

    assert (lockstep.stats.partnered_turns, lockstep.stats.solo_turns) == (0, 3)
    assert lockstep.stats.note == "no partner joined within 0.2 s"
    with lockstep.turn():  # after finish (the judge's requests): no longer counted
        pass
    assert (lockstep.stats.partnered_turns, lockstep.stats.solo_turns) == (0, 3)
    assert not (tmp_path / "pair.lock").exists()


def test_a_stale_lockstep_file_is_replaced(tmp_path: Path) -> None:
    """A file left by a run that was killed before its partner came: nobody listens there."""
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    path = tmp_path / "pair.lock"
    path.write_text(json.dumps({"port": port, "pid": 1, "token": "0" * 16}))

    log, _, _ = run_pair(path, 2, 2)

    assert requests_in_order(log) == ["A0", "B0", "A1", "B1"]


def test_an_unreadable_lockstep_file_is_one_line_error(tmp_path: Path) -> None:
    from pytest_foundry.lockstep import LockstepError

    path = tmp_path / "pair.lock"
    path.write_text("not json")
    lockstep = Lockstep(path, join_timeout_s=0.2)
    lockstep.read_timeout_s = 0.2
    with pytest.raises(LockstepError, match=r"pair\.lock: unreadable"):
        lockstep.join()
