"""A misbehaving OpenAI-compatible server on 127.0.0.1, for fault-injection tests.

Standard library only; one thread per connection; every handler is bounded (it stops
when the server stops, or after ``MAX_HANG_S``).  ``GET /v1/models`` lists one model, so
the server can stand in for ``--foundry-endpoint``; ``POST /v1/chat/completions``
answers according to ``mode``:

==================  ========================================================================
``foundry``         the well-behaved reference: Foundry Local's order and framing (chunked,
                    keep-alive): role chunk with empty content, content chunks, a finish
                    chunk, a usage chunk (``choices: []``), ``[DONE]``
``ok``              another well-behaved stream: no role chunk, the last content chunk
                    carries the finish reason and usage, ``[DONE]``, body ended by close
``no_usage``        like ``foundry`` without the usage chunk (tokens must be estimated)
``cut``             two content chunks, then the connection closes (no finish, no [DONE])
``malformed``       one content chunk, then a ``data:`` line that is not JSON
``error_event``     HTTP 200, one ``data: {"error": ...}`` event, then close (as Foundry
                    does for a validation error)
``html``            HTTP 200 with an HTML page (a captive portal, a proxy's error page)
``banner``          a non-HTTP line (an SSH banner), then close
``http500``         HTTP 500 with an OpenAI-style JSON error body
``reset``           two content chunks, then a TCP reset (RST) mid-stream
``reset_before``    a TCP reset right after reading the request, before any answer
``hang``            reads the request and never answers
``trickle``         HTTP 200, then one content chunk every ``TRICKLE_S`` and never finishes
``trickle_headers`` the status line and headers one byte every ``TRICKLE_S``
==================  ========================================================================

Besides ``MODEL_ID`` (answered per ``mode``), the server lists one model per mode,
``fault-<mode>:1`` (``_`` as ``-``), which always answers in that mode: one plugin run
can meet every fault, one model each.  ``healthy_first`` requests per model are answered
as ``foundry`` before the fault applies (a model's cold and warm-up requests succeed; its
measured ones meet the fault).  ``models_mode`` makes ``GET /v1/models`` (the plugin's
endpoint probe) misbehave too: ``banner``, ``html`` or ``http500``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_ID = "faulty-model:1"
MODELS_MODES = ("ok", "banner", "html", "http500")
MODES = (
    "foundry",
    "ok",
    "no_usage",
    "cut",
    "malformed",
    "error_event",
    "html",
    "banner",
    "http500",
    "reset",
    "reset_before",
    "hang",
    "trickle",
    "trickle_headers",
    "reasoning_delta",
    "think_tags",
)
# A reasoning model's stream, in the two documented shapes: reasoning in its own delta
# field (``reasoning_content``, as DeepSeek's API and vLLM send it), or inside
# ``<think>...</think>`` in the content (as the DeepSeek-R1 distills in Foundry's catalog
# write it), with the tags split across chunks.
REASONING_PIECES = ("Let me", " think", " about it.")
THINK_PIECES = ("<thi", "nk>Let me", " think</th", "ink>", "\n", "Hel", "lo")
REASONING_TOKENS = 4
PIECES = ("Hel", "lo", ", wor", "ld")
COMPLETION_TOKENS = 5  # what usage says (chunks are not tokens: 4 pieces, 5 tokens)
ERROR_500 = "model runner crashed: out of memory"
ERROR_EVENT = "kv_cache.cc:88 void fl::Generate(int) KV cache capacity (48) must be at least 512"
TRICKLE_S = 0.1
MAX_HANG_S = 30.0
MAX_BODY = 1 << 20


def mode_model(mode: str) -> str:
    """The model id that always answers in ``mode``."""
    return f"fault-{mode.replace('_', '-')}:1"


_MODE_OF_MODEL = {mode_model(mode): mode for mode in MODES}


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }


def _usage(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": COMPLETION_TOKENS, "total_tokens": 12},
    }


def _event(data: dict[str, Any] | str) -> bytes:
    return b"data: " + (data if isinstance(data, str) else json.dumps(data)).encode() + b"\n\n"


class MisbehavingServer:
    """``with MisbehavingServer("cut") as server: ... server.base_url ...``"""

    def __init__(self, mode: str = "foundry", *, healthy_first: int = 0, models_mode: str = "ok") -> None:
        if models_mode not in MODELS_MODES:
            raise ValueError(f"unknown models_mode {models_mode!r}; modes: {', '.join(MODELS_MODES)}")
        self.mode = mode
        self.healthy_first = healthy_first
        self.models_mode = models_mode
        self.requests: list[dict[str, Any]] = []
        self._per_model: dict[str, int] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
        self._mode = mode

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def _next_mode(self, body: dict[str, Any]) -> str:
        model = str(body.get("model"))
        with self._lock:
            self.requests.append(body)
            self._per_model[model] = count = self._per_model.get(model, 0) + 1
            if count <= self.healthy_first:
                return "foundry"
            return _MODE_OF_MODEL.get(model, self.mode)

    def start(self) -> MisbehavingServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MisbehavingServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def misbehaving_server(
    mode: str = "foundry", *, healthy_first: int = 0, models_mode: str = "ok"
) -> Iterator[MisbehavingServer]:
    with MisbehavingServer(mode, healthy_first=healthy_first, models_mode=models_mode) as server:
        yield server


class _Handler(BaseHTTPRequestHandler):
    server_state: MisbehavingServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the client's side

    # -- routes ----------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models" and self.server_state.models_mode != "ok":
            getattr(self, f"_mode_{self.server_state.models_mode}")(MODEL_ID)
            self.close_connection = True
        elif self.path.rstrip("/") == "/v1/models":
            ids = [MODEL_ID, *_MODE_OF_MODEL]
            self._json(200, {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._json(400, {"error": {"message": "request body is not JSON"}})
            return
        mode = self.server_state._next_mode(body)
        model = str(body.get("model", MODEL_ID))
        # The client may give up first (a timeout test): nothing left to do then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            getattr(self, f"_mode_{mode}")(model)
        self.close_connection = True

    # -- helpers ---------------------------------------------------------------------
    def _json(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _start_stream(self, *, chunked: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def _send(self, data: bytes, *, chunked: bool = True) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        self.wfile.flush()

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _wait(self, seconds: float) -> bool:
        """Sleep; False once the server is stopping."""
        return not self.server_state.stopping.wait(seconds)

    # -- modes -----------------------------------------------------------------------
    def _mode_foundry(self, model: str, *, usage: bool = True) -> None:
        self._start_stream()
        self._send(_event(_chunk(model, {"role": "assistant", "content": ""})))
        for piece in PIECES:
            self._send(_event(_chunk(model, {"content": piece})))
        self._send(_event(_chunk(model, {}, "stop")))
        if usage:
            self._send(_event(_usage(model)))
        self._send(_event("[DONE]"))
        self._end_chunked()

    def _mode_ok(self, model: str) -> None:
        self._start_stream(chunked=False)
        last = len(PIECES) - 1
        for index, piece in enumerate(PIECES):
            if index < last:
                self._send(_event(_chunk(model, {"content": piece})), chunked=False)
            else:
                usage = _usage(model)["usage"]
                self._send(_event(_chunk(model, {"content": piece}, "stop", usage=usage)), chunked=False)
        self._send(_event("[DONE]"), chunked=False)

    def _mode_reasoning_delta(self, model: str) -> None:
        self._start_stream()
        self._send(_event(_chunk(model, {"role": "assistant", "content": ""})))
        for piece in REASONING_PIECES:
            time.sleep(0.02)  # reasoning takes a while before the answer starts
            self._send(_event(_chunk(model, {"reasoning_content": piece})))
        for piece in PIECES:
            self._send(_event(_chunk(model, {"content": piece})))
        self._send(_event(_chunk(model, {}, "stop")))
        usage = _usage(model)
        usage["usage"]["completion_tokens"] = COMPLETION_TOKENS + REASONING_TOKENS
        usage["usage"]["completion_tokens_details"] = {"reasoning_tokens": REASONING_TOKENS}
        self._send(_event(usage))
        self._send(_event("[DONE]"))
        self._end_chunked()

    def _mode_think_tags(self, model: str) -> None:
        self._start_stream()
        self._send(_event(_chunk(model, {"role": "assistant", "content": ""})))
        for piece in THINK_PIECES:
            if "nk>Let" in piece or " think" in piece:
                time.sleep(0.02)
            self._send(_event(_chunk(model, {"content": piece})))
        self._send(_event(_chunk(model, {}, "stop")))
        self._send(_event(_usage(model)))
        self._send(_event("[DONE]"))
        self._end_chunked()

    def _mode_no_usage(self, model: str) -> None:
        self._mode_foundry(model, usage=False)

    def _mode_cut(self, model: str) -> None:
        self._start_stream()
        self._send(_event(_chunk(model, {"role": "assistant", "content": ""})))
        for piece in PIECES[:2]:
            self._send(_event(_chunk(model, {"content": piece})))
        self._end_chunked()  # a clean end of the body, mid-answer

    def _mode_malformed(self, model: str) -> None:
        self._start_stream()
        self._send(_event(_chunk(model, {"content": PIECES[0]})))
        self._send(b'data: {"choices": [{"delta": {"content": "lo"}, \n\n')
        self._send(_event("[DONE]"))
        self._end_chunked()

    def _mode_error_event(self, model: str) -> None:
        self._start_stream()
        self._send(_event({"error": {"message": ERROR_EVENT, "type": "invalid_request_error"}}))
        self._end_chunked()

    def _mode_html(self, model: str) -> None:
        page = b"<!DOCTYPE html><html><head><title>Sign in to the guest network</title></head>"
        page += b"<body><h1>Welcome</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def _mode_banner(self, model: str) -> None:
        self.wfile.write(b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n")
        self.wfile.flush()

    def _mode_http500(self, model: str) -> None:
        self._json(500, {"error": {"message": ERROR_500, "type": "server_error"}})

    def _mode_reset(self, model: str) -> None:
        self._start_stream()
        self._send(_event(_chunk(model, {"role": "assistant", "content": ""})))
        for piece in PIECES[:2]:
            self._send(_event(_chunk(model, {"content": piece})))
        self._reset()

    def _mode_reset_before(self, model: str) -> None:
        self._reset()

    def _mode_hang(self, model: str) -> None:
        self._wait(MAX_HANG_S)

    def _mode_trickle(self, model: str) -> None:
        self._start_stream()
        waited = 0.0
        while waited < MAX_HANG_S and self._wait(TRICKLE_S):
            self._send(_event(_chunk(model, {"content": "."})))
            waited += TRICKLE_S

    def _mode_trickle_headers(self, model: str) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Padding: " + b"." * 400 + b"\r\n\r\n"
        for index in range(len(head)):
            if not self._wait(TRICKLE_S):
                return
            self.wfile.write(head[index : index + 1])
            self.wfile.flush()
