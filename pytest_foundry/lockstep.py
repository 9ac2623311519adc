"""Two benchmark runs that take turns, one request at a time (``--foundry-lockstep``).

Pure: no pytest.  A shared runner's speed drifts by tens of percent over tens of seconds
(other tenants, thermal limits), so a base run and a head run measured one after the
other differ by more than the changes a gate should catch.  Run them at the same time
with the same lockstep file instead: they alternate (base request, head request, base
request, ...), both see the same drift, and it cancels out of the head/base ratios,
while no two requests ever compete for the CPU.

The first run to arrive hosts: it listens on 127.0.0.1 and publishes the port in the
lockstep file (created atomically, so the partner never reads half of it).  The second
connects.  The turn is a token passed over the socket; while waiting for it a run blocks
in ``recv`` (no CPU spent).  A partner that exits, crashes or is interrupted closes the
socket, and the survivor carries on alone: lockstep never turns a failure into a hang.
At the end :meth:`finish` waits for the partner to finish measuring too, so neither
run's report writing disturbs the other's last requests.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pytest_foundry.errors import FoundryError

TURN = b"T"  # "your turn"
DONE = b"D"  # "I have no more requests: go on alone"
HELLO_BYTES = 16


class LockstepError(FoundryError):
    """The lockstep file cannot be used (one line)."""


@dataclass
class LockstepStats:
    seat: int | None = None  # 0: the host (first turn), 1: the guest; None: never joined
    partnered_turns: int = 0  # turns taken while the partner was there
    solo_turns: int = 0  # turns taken alone (no partner yet, or it has left)
    waited_s: float = 0.0  # time spent waiting for the turn
    note: str | None = None  # why a run went on alone


class Lockstep:
    """``with lockstep.turn(): request()``; ``lockstep.finish()`` at the end of the run.

    join_timeout_s: how long the host waits for a partner before measuring alone.
    wait_timeout_s: the longest a run waits for its turn (a live partner that stops
    passing it back is treated as gone).
    """

    def __init__(self, path: Path, *, join_timeout_s: float = 120.0, wait_timeout_s: float = 900.0) -> None:
        self.path = path
        self.join_timeout_s = join_timeout_s
        self.wait_timeout_s = wait_timeout_s
        self.read_timeout_s = 10.0  # for the host's published file to become readable
        self.stats = LockstepStats()
        self._socket: socket.socket | None = None
        self._joined = False
        self._has_turn = False
        self._partner_done = False
        self._closed = False  # after finish/close, requests (the judge's) are not turns

    # -- joining ---------------------------------------------------------------------
    def join(self) -> None:
        """Host or join the pair named by the lockstep file (once; later calls do nothing)."""
        if self._joined:
            return
        self._joined = True
        for _ in range(3):  # a stale file from a dead run is removed and the join retried
            try:
                self._host()
                return
            except FileExistsError:
                pass
            if self._join_host():
                return
        raise LockstepError(
            f"lockstep file {self.path}: cannot host or join (stale file that cannot be removed?)"
        )

    def _host(self) -> None:
        token = secrets.token_hex(HELLO_BYTES // 2)
        listener = socket.create_server(("127.0.0.1", 0))
        try:
            port = listener.getsockname()[1]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"port": port, "pid": os.getpid(), "token": token}), "utf-8")
            try:
                os.link(temporary, self.path)  # atomic: fails when the file exists
            finally:
                temporary.unlink(missing_ok=True)
            self.stats.seat, self._has_turn = 0, True
            listener.settimeout(self.join_timeout_s)
            try:
                while True:
                    connection, _ = listener.accept()
                    connection.settimeout(5.0)
                    hello = _recv_exactly(connection, HELLO_BYTES)
                    if hello == token.encode("ascii"):
                        break
                    connection.close()  # not our partner (a port scan, a stale guest)
            except (TimeoutError, OSError):
                self.stats.note = f"no partner joined within {self.join_timeout_s:g} s"
                return
            finally:
                self.path.unlink(missing_ok=True)  # the pair is formed (or abandoned)
            connection.settimeout(None)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._socket = connection
        finally:
            listener.close()

    def _join_host(self) -> bool:
        """Connect to the host named in the file; False when the file was stale (removed)."""
        deadline = time.monotonic() + self.read_timeout_s
        while True:  # the host links the file complete; only a read error can be partial
            try:
                published = json.loads(self.path.read_text("utf-8"))
                port, token = int(published["port"]), str(published["token"])
                break
            except FileNotFoundError:
                return False
            except (ValueError, KeyError, TypeError) as exc:
                if time.monotonic() > deadline:
                    raise LockstepError(f"lockstep file {self.path}: unreadable ({exc})") from None
                time.sleep(0.05)
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=5.0)
            connection.sendall(token.encode("ascii"))
        except OSError:
            # Nobody listens: a run that died before a partner came.  Remove its file.
            with contextlib.suppress(OSError):
                self.path.unlink()
            return False
        connection.settimeout(None)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket, self.stats.seat, self._has_turn = connection, 1, False
        return True

    # -- turns -----------------------------------------------------------------------
    @property
    def partnered(self) -> bool:
        return self._socket is not None and not self._partner_done

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this run's turn, run the block, pass the turn on (also on errors)."""
        if self._closed:
            yield
            return
        self.join()
        self._wait_for_turn()
        partnered = self.partnered
        try:
            yield
        finally:
            if partnered:
                self.stats.partnered_turns += 1
            else:
                self.stats.solo_turns += 1
            self._pass_turn()

    def _wait_for_turn(self) -> None:
        if self._has_turn or not self.partnered:
            return
        assert self._socket is not None
        started = time.perf_counter()
        self._socket.settimeout(self.wait_timeout_s)
        try:
            message = self._socket.recv(1)
        except TimeoutError:
            message = b""
            self.stats.note = f"the partner kept the turn over {self.wait_timeout_s:g} s"
        except OSError:
            message = b""
        finally:
            self.stats.waited_s += time.perf_counter() - started
        if message == TURN:
            self._has_turn = True
            return
        if message != DONE and self.stats.note is None:
            self.stats.note = "the partner run stopped before it finished (failed or interrupted)"
        self._partner_gone()  # it has no more requests: go on alone

    def _pass_turn(self) -> None:
        if not self.partnered:
            return
        assert self._socket is not None
        try:
            self._socket.sendall(TURN)
            self._has_turn = False
        except OSError:
            self._partner_gone()

    def _partner_gone(self) -> None:
        self._partner_done = True
        self._has_turn = True

    # -- the end ---------------------------------------------------------------------
    def finish(self) -> None:
        """No more requests from this run: let the partner go on alone, and wait until it
        has finished measuring too (it closes or says DONE)."""
        if not self.partnered:
            self.close()
            return
        assert self._socket is not None
        try:
            self._wait_for_turn()  # hold the turn: the partner is not mid-request
            if self.partnered:
                self._socket.sendall(DONE)
                self._socket.settimeout(self.wait_timeout_s)
                while self._socket.recv(1) == TURN:  # the partner's last requests
                    pass
        except OSError:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self._closed = True
        self._partner_done = True
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None

    def summary(self) -> str:
        if self.stats.seat is None:
            return "lockstep: unused"
        role = "host" if self.stats.seat == 0 else "guest"
        text = (
            f"lockstep ({role}): {self.stats.partnered_turns} turns with the partner, "
            f"{self.stats.solo_turns} alone"
        )
        return text + (f" ({self.stats.note})" if self.stats.note else "")


def _recv_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data
