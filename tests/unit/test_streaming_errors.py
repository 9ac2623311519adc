"""stream_chat against a scripted OpenAI-compatible server on 127.0.0.1.

The server answers ``POST /v1/chat/completions`` with whatever the test scripts: SSE
chunks in Foundry Local's order, an error event inside an HTTP 200 stream, an HTTP
error, or silence.  No timing assertions: only what was measured and what was raised.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pytest_foundry.errors import ModelError, RequestTimeout
from pytest_foundry.runtime.streaming import ChatClient, stream_chat

MODEL = "tiny-b:1"


def chunk(content: str | None = None, *, role: str | None = None, finish: str | None = None) -> dict:
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(completion_tokens: int) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": completion_tokens,
            "total_tokens": 5 + completion_tokens,
        },
    }


def foundry_stream(pieces: list[str], *, usage: int | None, finish: str = "stop") -> list[dict | str]:
    """Foundry Local's order: role chunk (empty content), content, finish, usage, [DONE]."""
    events: list[dict | str] = [chunk("", role="assistant")]
    events += [chunk(p) for p in pieces]
    events.append(chunk(finish=finish))
    if usage is not None:
        events.append(usage_chunk(usage))
    events.append("[DONE]")
    return events


@dataclass
class Script:
    status: int = 200
    events: list[dict | str] = field(default_factory=list)
    body: dict | None = None  # for non-200 answers
    delay_s: float = 0.0
    requests: list[dict] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.script.requests.append(json.loads(self.rfile.read(length)))
        if self.script.delay_s:
            time.sleep(self.script.delay_s)
        if self.script.status != 200:
            payload = json.dumps(self.script.body or {}).encode()
            self.send_response(self.script.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for event in self.script.events:
                data = event if isinstance(event, str) else json.dumps(event)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("ScriptedHandler", (Handler,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def ask(base_url: str, *, timeout_s: float = 10.0, max_tokens: int = 16):
    with ChatClient(base_url, timeout_s) as client:
        return stream_chat(
            client,
            MODEL,
            [{"role": "user", "content": "hi"}],
            max_tokens=max_tokens,
            temperature=0.0,
            seed=42,
            timeout_s=timeout_s,
        )


# -- a good stream -----------------------------------------------------------------------------
def test_text_usage_and_finish_reason_of_a_foundry_stream(server):
    url, script = server
    script.events = foundry_stream(["Hel", "lo", " wor", "ld"], usage=7, finish="length")
    generation = ask(url)
    assert generation.text == "Hello world"
    assert generation.model_id == MODEL
    assert (generation.max_tokens, generation.seed, generation.temperature) == (16, 42, 0.0)
    metrics = generation.metrics
    assert metrics.output_tokens == 7  # from usage, not the 4 chunks
    assert metrics.tokens_estimated is False
    assert metrics.finish_reason == generation.finish_reason == "length"
    assert metrics.ttft_s is not None
    assert 0 < metrics.ttft_s <= metrics.e2e_s
    # Four content chunks: three gaps (the empty role chunk is not content).
    assert len(metrics.gaps_s) == 3


def test_the_request_always_sends_budget_temperature_seed_and_asks_for_usage(server):
    url, script = server
    script.events = foundry_stream(["x"], usage=1)
    ask(url, max_tokens=24)
    (sent,) = script.requests
    assert sent["model"] == MODEL
    assert sent["max_tokens"] == 24
    assert sent["temperature"] == 0.0
    assert sent["seed"] == 42
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


def test_without_usage_tokens_are_estimated_and_flagged(server):
    url, script = server
    script.events = foundry_stream(["abcd", "efgh", "ij"], usage=None)
    metrics = ask(url).metrics
    assert metrics.tokens_estimated is True
    assert metrics.output_tokens == 2  # round(10 characters / 4)


def test_a_stream_without_content_has_no_ttft(server):
    url, script = server
    script.events = foundry_stream([], usage=0)
    generation = ask(url)
    assert generation.text == ""
    assert generation.metrics.ttft_s is None
    assert generation.metrics.output_tokens == 0
    assert generation.metrics.tokens_estimated is False


def test_empty_deltas_do_not_count_as_the_first_token(server):
    url, script = server
    script.events = [
        chunk("", role="assistant"),
        chunk(""),
        chunk(""),
        chunk("x"),
        chunk(finish="stop"),
        "[DONE]",
    ]
    metrics = ask(url).metrics
    assert metrics.gaps_s == ()  # exactly one content delta was seen
    assert metrics.ttft_s is not None


# -- failures --------------------------------------------------------------------------------
def test_an_error_event_inside_a_200_stream_is_a_model_error(server):
    url, script = server
    script.events = [{"error": {"message": "temperature must be in [0, 2]", "type": "invalid_request_error"}}]
    with pytest.raises(ModelError) as info:
        ask(url)
    message = str(info.value)
    assert message.startswith(f"{MODEL}: ")
    assert "temperature must be in [0, 2]" in message
    assert "\n" not in message


def test_an_http_error_names_status_url_and_server_message(server):
    url, script = server
    script.status = 400
    script.body = {"error": {"message": "Model not loaded\n(see the server log)"}}
    with pytest.raises(ModelError) as info:
        ask(url)
    message = str(info.value)
    assert "HTTP 400" in message
    assert "127.0.0.1" in message
    assert "Model not loaded (see the server log)" in message
    assert "\n" not in message
    assert not isinstance(info.value, RequestTimeout)


def test_a_closed_port_is_a_model_error():
    with pytest.raises(ModelError, match=r"tiny-b:1: cannot reach http://127\.0\.0\.1:9/v1"):
        ask("http://127.0.0.1:9/v1")


def test_no_answer_within_the_timeout_is_a_request_timeout(server):
    url, script = server
    script.delay_s = 1.0
    script.events = foundry_stream(["late"], usage=1)
    with pytest.raises(RequestTimeout, match=r"tiny-b:1: no answer within the 0\.2 s timeout"):
        ask(url, timeout_s=0.2)
