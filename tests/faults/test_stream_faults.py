"""Every way a server can misbehave ends in one line of the right type, never a traceback
nor a wrong "ok": first against ``stream_chat`` itself, then through the plugin.

The server is real (``misbehaving_server``, on 127.0.0.1); so are the sockets, the HTTP
framing and, end to end, the pytest subprocess and its results.json.
"""

from __future__ import annotations

import os
import time

import pytest
from misbehaving_server import (
    COMPLETION_TOKENS,
    ERROR_500,
    MODEL_ID,
    PIECES,
    MisbehavingServer,
    mode_model,
)

from pytest_foundry.errors import ConnectionFailed, ModelError, RequestTimeout
from pytest_foundry.runtime.endpoint import EndpointRuntime
from pytest_foundry.runtime.streaming import ChatClient, Generation, stream_chat

TIMEOUT_S = 1.0
# A hung or trickling server is cut off at the timeout; this much later at most.
TIMEOUT_SLACK_S = 0.5
TEXT = "".join(PIECES)


def ask(server: MisbehavingServer, content: str = "hi", *, timeout_s: float = TIMEOUT_S) -> Generation:
    with ChatClient(server.base_url, timeout_s) as client:
        return stream_chat(
            client,
            MODEL_ID,
            [{"role": "user", "content": content}],
            max_tokens=16,
            temperature=0.0,
            seed=42,
            timeout_s=timeout_s,
        )


def fails(server: MisbehavingServer, mode: str, kind: type[ModelError] = ModelError) -> str:
    """The one line ``stream_chat`` raises in ``mode``; checks its type and shape."""
    server.mode = mode
    with pytest.raises(ModelError) as info:
        ask(server)
    error = info.value
    assert type(error) is kind, f"{type(error).__name__}: {error}"
    message = str(error)
    assert message.startswith(f"{MODEL_ID}: "), message
    assert "\n" not in message
    assert "Traceback" not in message
    # Raised alone: nothing chained that a traceback would show.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return message


# -- well-behaved streams ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["foundry", "ok"])
def test_a_well_behaved_stream_is_measured(misbehaving, mode):
    misbehaving.mode = mode
    generation = ask(misbehaving)
    assert generation.text == TEXT
    metrics = generation.metrics
    assert metrics.output_tokens == COMPLETION_TOKENS  # usage, not the 4 chunks
    assert metrics.tokens_estimated is False
    assert metrics.finish_reason == "stop"
    assert metrics.ttft_s is not None
    assert 0 < metrics.ttft_s <= metrics.e2e_s < TIMEOUT_S
    assert len(metrics.gaps_s) == len(PIECES) - 1


def test_a_stream_without_usage_is_fine_but_its_tokens_are_estimated(misbehaving):
    misbehaving.mode = "no_usage"
    metrics = ask(misbehaving).metrics
    assert metrics.tokens_estimated is True
    assert metrics.output_tokens == round(len(TEXT) / 4)


def test_the_request_is_what_the_server_expects(misbehaving):
    ask(misbehaving, "héllo ✓")
    (sent,) = misbehaving.requests
    assert sent["messages"] == [{"role": "user", "content": "héllo ✓"}]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert (sent["max_tokens"], sent["temperature"], sent["seed"]) == (16, 0.0, 42)


# -- broken answers ----------------------------------------------------------------------
def test_a_cut_stream_is_an_error_not_a_short_answer(misbehaving):
    message = fails(misbehaving, "cut")
    assert "ended without a finish reason or [DONE] after 2 content chunks" in message
    assert "cannot reach" not in message


def test_malformed_json_in_the_stream(misbehaving):
    message = fails(misbehaving, "malformed")
    assert f"malformed event 2 in the stream from {misbehaving.base_url}" in message
    assert '\'{"choices": [{"delta": {"content": "lo"}, \'' in message


def test_an_error_event_keeps_the_reason_and_drops_the_native_signature(misbehaving):
    misbehaving.mode = "error_event"
    with pytest.raises(ModelError) as info:
        ask(misbehaving)
    message = str(info.value)
    assert message == f"{MODEL_ID}: server error: KV cache capacity (48) must be at least 512"
    # The whole native text stays available (for results.json).
    assert info.value.detail is not None
    assert "kv_cache.cc:88 void fl::Generate(int)" in info.value.detail


def test_an_html_page_is_not_an_event_stream(misbehaving):
    message = fails(misbehaving, "html")
    assert (
        f"{misbehaving.base_url} answered HTTP 200 with text/html, not an event stream: "
        "Sign in to the guest network" in message
    )


def test_a_non_http_banner(misbehaving):
    message = fails(misbehaving, "banner")
    assert (
        f"{misbehaving.base_url} did not answer with HTTP (it sent SSH-2.0-OpenSSH_9.6p1 Debian-4)" in message
    )
    assert "cannot reach" not in message


def test_http_500_carries_the_servers_message(misbehaving):
    message = fails(misbehaving, "http500")
    assert message == f"{MODEL_ID}: HTTP 500 from {misbehaving.base_url}: {ERROR_500}"


def test_a_reset_mid_stream_says_so(misbehaving):
    # A dropped connection: the model's breaker opens on it (ConnectionFailed).
    message = fails(misbehaving, "reset", ConnectionFailed)
    assert f"{misbehaving.base_url} reset the connection mid-stream after" in message
    assert "cannot reach" not in message


def test_a_reset_before_any_answer_is_not_unreachable(misbehaving):
    message = fails(misbehaving, "reset_before", ConnectionFailed)
    assert "reset" in message.lower()
    assert "cannot reach" not in message


def test_a_refused_connection_is_unreachable():
    with MisbehavingServer() as server:
        url = server.base_url
    # Stopped: nothing listens on that port any more.
    with pytest.raises(ModelError) as info, ChatClient(url, TIMEOUT_S) as client:
        stream_chat(
            client,
            MODEL_ID,
            [{"role": "user", "content": "x"}],
            max_tokens=1,
            temperature=0.0,
            seed=0,
            timeout_s=TIMEOUT_S,
        )
    assert str(info.value) == f"{MODEL_ID}: cannot reach {url} (connection refused)"
    assert not isinstance(info.value, RequestTimeout)
    assert isinstance(info.value, ConnectionFailed)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/v1", "127.0.0.1:8080/v1", "http://127.0.0.1:99999/v1"])
def test_a_url_the_client_cannot_use_is_one_line(url):
    with pytest.raises(ModelError, match=r"^\S+: not an? (http\(s\) URL|valid port)$"):
        ChatClient(url, TIMEOUT_S)


def test_the_clients_timeout_is_the_default(misbehaving):
    misbehaving.mode = "hang"
    start = time.monotonic()
    with pytest.raises(RequestTimeout), ChatClient(misbehaving.base_url, 0.3) as client:
        stream_chat(
            client, MODEL_ID, [{"role": "user", "content": "x"}], max_tokens=1, temperature=0.0, seed=0
        )
    assert time.monotonic() - start < 0.3 + TIMEOUT_SLACK_S


# -- bounded time ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("hang", "no answer within the 1 s timeout"),
        ("trickle_headers", "no answer within the 1 s timeout"),
        ("trickle", "request exceeded the 1 s timeout (the stream was still open after"),
    ],
)
def test_a_hung_or_trickling_server_is_cut_off_at_the_timeout(misbehaving, mode, expected):
    start = time.monotonic()
    message = fails(misbehaving, mode, RequestTimeout)
    elapsed = time.monotonic() - start
    assert expected in message
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + TIMEOUT_SLACK_S, elapsed


def test_the_deadline_holds_in_a_forked_child(misbehaving):
    ask(misbehaving)  # the parent's deadline watchdog is running now
    misbehaving.mode = "trickle_headers"
    pid = os.fork()
    if pid == 0:  # the child: only the deadline's outcome leaves it, as its exit status
        status = 3
        try:
            start = time.monotonic()
            ask(misbehaving)
        except RequestTimeout:
            status = 0 if time.monotonic() - start < TIMEOUT_S + TIMEOUT_SLACK_S else 1
        except BaseException:
            status = 2
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# -- what the request cannot carry -------------------------------------------------------
def test_a_prompt_with_a_lone_surrogate_names_the_character_and_sends_nothing(misbehaving):
    with pytest.raises(ModelError) as info:
        ask(misbehaving, "ok so far \ud800 then not")
    assert str(info.value) == (
        f"{MODEL_ID}: message 1 (user) cannot be sent: its content holds U+D800 at character 11, "
        "a lone surrogate that UTF-8 cannot encode"
    )
    assert misbehaving.requests == []


# -- through the plugin ------------------------------------------------------------------
FAULTS = {
    # mode: (cell status, the one line's content)
    "cut": ("error", "ended without a finish reason or [DONE] after 2 content chunks"),
    "malformed": ("error", "malformed event 2 in the stream"),
    "error_event": ("error", "server error: KV cache capacity (48) must be at least 512"),
    "html": ("error", "answered HTTP 200 with text/html, not an event stream: Sign in to the guest network"),
    "banner": ("error", "did not answer with HTTP (it sent SSH-2.0-OpenSSH_9.6p1 Debian-4)"),
    "http500": ("error", f"HTTP 500 from {{url}}: {ERROR_500}"),
    "reset": ("error", "reset the connection mid-stream after"),
    "hang": ("timeout", "no answer within the 1 s timeout"),
    "trickle": ("timeout", "request exceeded the 1 s timeout"),
}


def test_every_fault_fails_only_its_own_cells_with_its_reason(run_plugin):
    # One run meets every fault, one model each, next to well-behaved models: the cold
    # request of each model succeeds, its measured rounds meet the fault.
    good = ["foundry", "ok", "no_usage"]
    with MisbehavingServer(healthy_first=1) as server:
        start = time.monotonic()
        run = run_plugin(server, [mode_model(mode) for mode in [*good, *FAULTS]])
        elapsed = time.monotonic() - start
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    # The hung and the trickling model cost their 1 s timeout each, not the server's 30 s.
    assert elapsed < 25, elapsed
    run.result.assert_outcomes(passed=len(good), failed=len(FAULTS))
    run.assert_no_traceback()
    cells = run.cells()
    for mode in good:
        cell = cells[mode_model(mode)]
        assert cell["status"] == "ok", cell
        assert len(cell["samples"]) == 2
        estimated = {sample["tokens_estimated"] for sample in cell["samples"]}
        assert estimated == {mode == "no_usage"}, mode
    for mode, (status, reason) in FAULTS.items():
        cell = cells[mode_model(mode)]
        reason = reason.format(url=server.base_url)
        assert (cell["status"], mode) == (status, mode)
        assert reason in cell["reason"], (mode, cell["reason"])
        assert "\n" not in cell["reason"]
        # The terminal shows the same one line, on a line of its own.
        assert any(reason in line for line in run.output.splitlines()), (mode, run.output)


CLIENT_TEST = f"""
def test_the_openai_client_fixture(foundry_client, foundry_model):
    stream = foundry_client.chat.completions.create(
        model=foundry_model.model_id,
        messages=[{{"role": "user", "content": "hi"}}],
        max_tokens=4,
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == {TEXT!r}
"""


def test_a_well_behaved_endpoint_passes(run_plugin, pytester):
    # The timed path and the openai client of the foundry_client fixture, side by side.
    pytester.makepyfile(test_client=CLIENT_TEST)
    with MisbehavingServer("foundry") as server:
        run = run_plugin(server, [MODEL_ID])
    assert run.result.ret == pytest.ExitCode.OK
    run.result.assert_outcomes(passed=2)
    run.assert_no_traceback()
    assert [cell["status"] for cell in run.cells().values()] == ["ok"]


# -- the endpoint probe (GET /models) ----------------------------------------------------
@pytest.mark.parametrize(
    ("models_mode", "expected"),
    [
        ("banner", "endpoint {url} did not answer with HTTP (it sent SSH-2.0-OpenSSH_9.6p1 Debian-4)"),
        ("html", "endpoint {url}: GET /models did not answer with JSON"),
        ("http500", "endpoint {url}: GET /models answered HTTP 500 (Internal Server Error)"),
    ],
)
def test_a_misbehaving_probe_is_one_line(models_mode, expected):
    with MisbehavingServer(models_mode=models_mode) as server:
        runtime = EndpointRuntime(server.base_url)
        with pytest.raises(ModelError) as info:
            runtime.start()
    assert str(info.value) == expected.format(url=server.base_url)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_a_banner_on_the_probe_fails_the_run_with_one_line(run_plugin):
    reason = "did not answer with HTTP (it sent SSH-2.0-OpenSSH_9.6p1 Debian-4)"
    with MisbehavingServer(models_mode="banner") as server:
        run = run_plugin(server, [MODEL_ID])
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    run.assert_no_traceback()
    run.result.stdout.fnmatch_lines([f"endpoint {server.base_url} {reason}"])
    (model,) = run.results()["models"]
    assert model["status"] == "load-failed"
    assert reason in model["reason"]
    assert all(cell["status"] != "ok" for cell in run.cells().values())
