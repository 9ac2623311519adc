"""A loopback HTTP proxy that makes a model server's streams slower by a known factor.

Pure: no pytest.  It exists to prove the regression gate: put one in front of the same
server twice, once with ``slowdown=0`` (the base) and once with ``slowdown=0.15`` (the
head), and the head's TTFT, TPOT and E2E are 15% worse while everything else stays the
same.  A chunk that reached the proxy ``t`` seconds after the request was sent leaves it
at ``(1 + slowdown) * t``: the whole stream's timeline is stretched, so TTFT, TPOT and
E2E all grow by the same factor.  Only 127.0.0.1 is bound.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import queue
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

_PR_SET_TIMERSLACK = 29  # from <linux/prctl.h>
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


def _hold(seconds: float) -> None:
    """Sleep, never spin: a spinning proxy steals a core from the model server it sits in
    front of (on a 2-core runner that slowed the server itself and inflated the slowdown).
    Each chunk's departure is an absolute time, so sleep overshoot does not accumulate."""
    if seconds > 0:
        time.sleep(seconds)


def _tighten_timer_slack() -> None:
    """Linux wakes sleepers up to 50 us late by default; ask for 1 ns (best effort)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0)


class SlowProxy:
    """``with SlowProxy("http://127.0.0.1:5273", slowdown=0.15) as proxy: proxy.url``."""

    def __init__(self, upstream: str, slowdown: float = 0.0) -> None:
        if slowdown < 0:
            raise ValueError("slowdown must be >= 0")
        parts = urlsplit(upstream)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream needs a host and port: {upstream!r}")
        self.upstream_host, self.upstream_port = parts.hostname, parts.port
        self.slowdown = slowdown
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, name="slow-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep benchmark output clean

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self._forward(self.rfile.read(length))

            def _forward(self, body: bytes | None) -> None:
                _tighten_timer_slack()  # per thread: each request has its own
                sent = time.perf_counter()
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=300)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}
                    }
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP_BY_HOP:
                            self.send_header(key, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    # A reader thread stamps each chunk as it arrives, so chunks that
                    # pile up while an earlier one is held keep their true arrival time.
                    arrivals: queue.Queue[tuple[float, bytes]] = queue.Queue()

                    def read() -> None:
                        while True:
                            chunk = response.read1(65536)
                            arrivals.put((time.perf_counter(), chunk))
                            if not chunk:
                                return

                    reader = threading.Thread(target=read, name="slow-proxy-reader", daemon=True)
                    reader.start()
                    while True:
                        arrived, chunk = arrivals.get()
                        if chunk and proxy.slowdown:
                            _hold(sent + (1 + proxy.slowdown) * (arrived - sent) - time.perf_counter())
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                        if not chunk:
                            break
                    reader.join()
                finally:
                    upstream.close()
                self.close_connection = True

        return Handler
