"""The HTTP side of a timed streamed request: one fresh ``http.client`` connection per
request, a deadline on the whole request, and one clear line for every way a server or
the network can fail.

No pytest imports, and only the standard library: the timed path must not depend on
which HTTP library the installed ``openai`` happens to ship (``httpx`` or ``httpx2``).

* A fresh connection per request, as curl and a minimal client do: a *reused*
  ``http.client`` connection to the SDK's web service stalls ~40 ms per request (the
  server's small writes wait for the client's delayed ACK), fresh ones never do.
  Connecting to 127.0.0.1 costs tens of microseconds and is part of the request, as it
  is for curl's ``time_starttransfer``.
* The deadline bounds the whole request, not each read: a server that trickles bytes
  (even inside the status line or the headers) is cut off at ``timeout_s`` by a watchdog
  thread that shuts the socket down.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from pytest_foundry.errors import ConnectionFailed, ModelError, RequestTimeout, native_message, one_line

# One read takes what the socket has, up to this much (an SSE chunk is ~250 bytes).
READ_SIZE = 65536
# An error body or a page that is not an event stream: read this much, for the message.
ERROR_BODY_LIMIT = 65536
_EXCERPT = 100
# Longer socket timeouts overflow the C time types; a year is as good as forever.
MAX_SOCKET_TIMEOUT_S = 365 * 86400.0
# The watchdog re-checks at least this often (waits beyond it gain nothing).
_MAX_WAIT_S = 3600.0


class _Watchdog:
    """Shuts down the sockets of requests that pass their deadline.

    One daemon thread for the process.  Arming a request wakes the thread only when its
    deadline is earlier than the one the thread sleeps towards, which for sequential
    requests (each later than the last) is never: no thread switch lands in a timed
    request.
    """

    def __init__(self) -> None:
        self._reset()
        # A forked child (a model host, a multiprocessing worker) has no watchdog
        # thread: start afresh there instead of trusting the parent's state.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[int, int]] = []
        self._armed: dict[int, socket.socket] = {}
        self._fired: set[int] = set()
        self._tokens = itertools.count()
        self._wake_ns: int | None = None
        self._thread: threading.Thread | None = None
        self._clients = 0  # open ChatClients: with none left, the thread ends
        self._stop = False

    def arm(self, sock: socket.socket, deadline_ns: int) -> int:
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = sock
            heapq.heappush(self._heap, (deadline_ns, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pytest-foundry-deadline", daemon=True)
                self._thread.start()
            elif self._wake_ns is None or deadline_ns < self._wake_ns:
                self._cond.notify()
            return token

    def disarm(self, token: int) -> bool:
        """Forget a request; True when its deadline had fired."""
        with self._cond:
            self._armed.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                return True
            return False

    def fired(self, token: int) -> bool:
        with self._cond:
            return token in self._fired

    def opened(self) -> None:
        with self._cond:
            self._clients += 1

    def closed(self) -> None:
        """A client closed; after the last one the thread ends (a pytest run leaves no
        thread behind), and the next request starts it again."""
        with self._cond:
            self._clients = max(0, self._clients - 1)
            if self._clients == 0 and self._thread is not None:
                self._stop = True
                self._cond.notify()
                thread, self._thread = self._thread, None
            else:
                thread = None
        if thread is not None:
            thread.join(timeout=5.0)

    def _run(self) -> None:
        with self._cond:
            self._stop = False
            while not self._stop:
                now = time.perf_counter_ns()
                while self._heap and (self._heap[0][0] <= now or self._heap[0][1] not in self._armed):
                    _, token = heapq.heappop(self._heap)
                    sock = self._armed.pop(token, None)
                    if sock is not None:
                        self._fired.add(token)
                        # The plain socket's shutdown, also for TLS sockets: it wakes the
                        # blocked reader without touching TLS state another thread uses.
                        with contextlib.suppress(OSError):
                            socket.socket.shutdown(sock, socket.SHUT_RDWR)
                self._wake_ns = self._heap[0][0] if self._heap else None
                self._cond.wait(
                    None if self._wake_ns is None else min((self._wake_ns - now) / 1e9, _MAX_WAIT_S)
                )


_WATCHDOG = _Watchdog()


class ChatClient:
    """Sends timed, streamed chat requests to one OpenAI-compatible base URL.

    Made once per model; it holds no connection between requests (see the module
    docstring), so closing it is optional and idempotent.
    """

    def __init__(self, base_url: str, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelError(f"{base_url}: not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        try:
            self._port = parts.port
        except ValueError:
            raise ModelError(f"{base_url}: not a valid port") from None
        self._path = parts.path.rstrip("/") + "/chat/completions"
        self._closed = False
        _WATCHDOG.opened()

    def close(self) -> None:
        """Connections last one request; the last client closed also ends the deadline
        thread (idempotent)."""
        if not self._closed:
            self._closed = True
            _WATCHDOG.closed()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def exchange(self, body: bytes, *, label: str, timeout_s: float, deadline_ns: int) -> Exchange:
        return Exchange(self, body, label, timeout_s, deadline_ns)

    def _connection(self, timeout_s: float) -> http.client.HTTPConnection:
        timeout_s = min(timeout_s, MAX_SOCKET_TIMEOUT_S)
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout_s)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout_s)


class Exchange:
    """One request: ``with`` sends it and checks the answer's status and type; ``chunks``
    then yields the body as it arrives.  Every failure is a one-line ModelError or, past
    the deadline, a RequestTimeout."""

    def __init__(self, client: ChatClient, body: bytes, label: str, timeout_s: float, deadline_ns: int):
        self._client = client
        self._body = body
        self._label = label
        self._timeout_s = timeout_s
        self._deadline_ns = deadline_ns
        self._conn: http.client.HTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        self._token: int | None = None
        self.bytes_read = 0

    # -- messages --------------------------------------------------------------------
    def _fail(self, what: str, detail: str | None = None, *, connection: bool = False) -> ModelError:
        """A one-line error; ``connection``: the connection itself failed or was dropped."""
        kind = ConnectionFailed if connection else ModelError
        return kind(one_line(f"{self._label}: {what}"), detail=detail)

    def _timeout(self) -> RequestTimeout:
        if self._response is None:
            what = f"no answer within the {self._timeout_s:g} s timeout"
        else:
            what = (
                f"request exceeded the {self._timeout_s:g} s timeout "
                f"(the stream was still open after {self.bytes_read} bytes)"
            )
        return RequestTimeout(f"{self._label}: {what}")

    def _timed_out(self) -> bool:
        return (self._token is not None and _WATCHDOG.fired(self._token)) or (
            time.perf_counter_ns() >= self._deadline_ns
        )

    # -- the request -----------------------------------------------------------------
    def __enter__(self) -> Exchange:
        url = self._client.base_url
        conn = self._client._connection(self._timeout_s)
        self._conn = conn
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            raise RequestTimeout(
                f"{self._label}: cannot reach {url} within the {self._timeout_s:g} s timeout"
            ) from None
        except OSError as exc:
            conn.close()
            raise self._fail(f"cannot reach {url} ({_os_reason(exc)})", connection=True) from None
        assert conn.sock is not None
        self._token = _WATCHDOG.arm(conn.sock, self._deadline_ns)
        try:
            self._send_and_check(conn, url)
        except BaseException:
            self._close()
            raise
        return self

    def _send_and_check(self, conn: http.client.HTTPConnection, url: str) -> None:
        try:
            conn.request(
                "POST",
                self._client._path,
                self._body,
                {"Content-Type": "application/json", "Accept": "text/event-stream"},
            )
        except OSError as exc:
            if self._timed_out():
                raise self._timeout() from None
            raise self._fail(
                f"the connection to {url} broke while sending the request ({_os_reason(exc)})"
            ) from None
        try:
            response = conn.getresponse()
        except http.client.RemoteDisconnected:
            if self._timed_out():
                raise self._timeout() from None
            raise self._fail(f"{url} closed the connection without answering", connection=True) from None
        except (TimeoutError, ConnectionError, OSError) as exc:
            if self._timed_out() or isinstance(exc, TimeoutError):
                raise self._timeout() from None
            if isinstance(exc, ConnectionResetError):
                raise self._fail(f"{url} reset the connection before answering", connection=True) from None
            raise self._fail(
                f"the connection to {url} failed before an answer ({_os_reason(exc)})", connection=True
            ) from None
        except http.client.HTTPException as exc:
            if self._timed_out():
                raise self._timeout() from None
            sent = one_line(str(exc.args[0]) if exc.args else type(exc).__name__, _EXCERPT)
            raise self._fail(f"{url} did not answer with HTTP (it sent {sent})") from None
        self._response = response
        content_type = response.getheader("Content-Type") or ""
        if response.status != 200:
            text = self._read_rest()
            message = _body_message(text, content_type) or response.reason or "no message"
            raise self._fail(f"HTTP {response.status} from {url}: {message}", detail=text or None)
        if content_type and "text/event-stream" not in content_type.lower():
            text = self._read_rest()
            kind = content_type.split(";")[0].split(",")[0].strip()
            message = _body_message(text, content_type)
            raise self._fail(
                f"{url} answered HTTP 200 with {kind}, not an event stream"
                + (f": {message}" if message else ""),
                detail=text or None,
            )

    def _read_rest(self) -> str:
        """Up to ERROR_BODY_LIMIT bytes of the body, for a message (within the deadline)."""
        assert self._response is not None
        try:
            data = self._response.read(ERROR_BODY_LIMIT)
        except (OSError, http.client.HTTPException, ValueError):
            data = b""
        if self._timed_out():
            raise self._timeout()
        return data.decode("utf-8", "replace")

    def chunks(self) -> Iterator[tuple[int, bytes]]:
        """``(arrival time in perf_counter ns, bytes)`` as the body arrives, until it ends."""
        response = self._response
        assert response is not None
        url = self._client.base_url
        read = response.read1
        clock = time.perf_counter_ns
        deadline_ns = self._deadline_ns
        while True:
            try:
                data = read(READ_SIZE)
            except http.client.IncompleteRead:
                data = b""  # the chunked body was cut: the stream's end decides
            except (TimeoutError, OSError) as exc:
                if self._timed_out() or isinstance(exc, TimeoutError):
                    raise self._timeout() from None
                what = "reset the connection" if isinstance(exc, ConnectionResetError) else "broke the stream"
                raise self._fail(
                    f"{url} {what} mid-stream after {self.bytes_read} bytes ({_os_reason(exc)})",
                    connection=True,
                ) from None
            except (http.client.HTTPException, ValueError) as exc:
                reason = one_line(str(exc), _EXCERPT)
                raise self._fail(f"{url} sent a malformed HTTP body ({reason})") from None
            now = clock()
            if not data:
                if self._timed_out():
                    raise self._timeout()
                return
            if now >= deadline_ns:
                raise self._timeout()
            self.bytes_read += len(data)
            yield now, data

    def _close(self) -> None:
        if self._token is not None:
            _WATCHDOG.disarm(self._token)
            self._token = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close()


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"name not resolved: {exc.strerror or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return one_line(exc.strerror or str(exc) or type(exc).__name__, _EXCERPT)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def _body_message(text: str, content_type: str) -> str:
    """The server's own message in an error body: the OpenAI-style ``error.message``
    (native prefixes stripped), a page's title, or the start of the text."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        import json

        try:
            data: Any = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict):
            error = data.get("error", data)
            if isinstance(error, dict):
                for key in ("message", "detail", "error"):
                    if isinstance(error.get(key), str) and error[key]:
                        return native_message(error[key])
            elif isinstance(error, str) and error:
                return native_message(error)
    if "html" in content_type.lower() or stripped.lower().startswith(("<!doctype", "<html")):
        title = _TITLE.search(stripped)
        if title and title.group(1).strip():
            return one_line(title.group(1), _EXCERPT)
        stripped = _TAG.sub(" ", stripped)
    return one_line(native_message(stripped), _EXCERPT) if stripped else ""
