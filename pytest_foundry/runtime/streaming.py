"""One timed, streamed chat request, read with minimal work per chunk.

No pytest imports, no retries: the timed region holds exactly one request, from opening
its connection to the end of the stream (``[DONE]``).  The body is read as raw bytes
(``http_stream``), split into events by a small SSE decoder (``sse``) and each event
parsed with ``json.loads``: a few microseconds a chunk, where the ``openai`` client's
pydantic models cost ~60 µs, which on a fast model is most of the measured decode time.

Strict: a stream counts only when it finished (a finish reason or ``[DONE]``); a cut
stream, a body that is not an event stream, a malformed event, an error event, an HTTP
error, a broken connection and a request past its deadline are each one-line errors.

The ``openai`` client (``make_client``) stays for the ``foundry_client`` fixture and
untimed calls; it is imported only when one is made.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_foundry.errors import ModelError, native_message, one_line
from pytest_foundry.metrics import RequestMetrics, StreamTiming, compute_request_metrics
from pytest_foundry.runtime.base import DEFAULT_DIALECT, ServerDialect
from pytest_foundry.runtime.http_stream import ChatClient
from pytest_foundry.runtime.sse import NotAnEventStream, SseDecoder

if TYPE_CHECKING:
    import openai

__all__ = ["CHARS_PER_TOKEN_ESTIMATE", "ChatClient", "Generation", "make_client", "stream_chat"]

# Without usage from the server, N_out is estimated from the text (~4 characters a token
# for English BPE vocabularies) and flagged as estimated; chunks are never counted.
CHARS_PER_TOKEN_ESTIMATE = 4
_EXCERPT = 80
_DONE = b"[DONE]"


@dataclass(frozen=True)
class Generation:
    """The text one request produced, with its timing metrics."""

    model_id: str
    text: str
    metrics: RequestMetrics
    max_tokens: int
    seed: int
    temperature: float
    # When the request was sent (``time.perf_counter_ns``): with the metrics, where it lies
    # on a timeline of concurrent requests (the concurrency sweep).
    start_ns: int | None = None

    @property
    def finish_reason(self) -> str | None:
        return self.metrics.finish_reason


def make_client(base_url: str, timeout_s: float) -> openai.OpenAI:
    """An OpenAI client for a local server (the ``foundry_client`` fixture, untimed
    calls): no retries (they would hide failures) and a per-request timeout."""
    import openai

    return openai.OpenAI(
        base_url=base_url,
        api_key="not-needed-for-local",
        max_retries=0,
        timeout=timeout_s,
    )


def encode_request(
    model_id: str,
    messages: list[dict[str, str]],
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
    dialect: ServerDialect = DEFAULT_DIALECT,
) -> bytes:
    """The JSON body of a streamed chat request (UTF-8, as the openai client sends it),
    with the server dialect's extra fields (llama.cpp: ``cache_prompt: false``).

    Raises ModelError naming the message and character when a prompt holds text UTF-8
    cannot encode (a lone surrogate, e.g. from a ``"\\ud800"`` escape in prompts.json).
    """
    payload = {
        "model": model_id,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "seed": seed,
        "stream": True,
        "stream_options": {"include_usage": True},
        **dict(dialect.body_extra),
    }
    try:
        return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        raise ModelError(f"{model_id}: {_unencodable(messages)}") from None
    except (TypeError, ValueError) as exc:
        reason = one_line(str(exc))
        raise ModelError(f"{model_id}: the request cannot be encoded as JSON ({reason})") from None


def _unencodable(messages: list[dict[str, str]]) -> str:
    for index, message in enumerate(messages, start=1):
        for key, value in message.items():
            for position, char in enumerate(str(value), start=1):
                if 0xD800 <= ord(char) <= 0xDFFF:
                    role = message.get("role", "?")
                    return (
                        f"message {index} ({role}) cannot be sent: its {key} holds U+{ord(char):04X} "
                        f"at character {position}, a lone surrogate that UTF-8 cannot encode"
                    )
    return "the request holds text that UTF-8 cannot encode"


def stream_chat(
    client: ChatClient,
    model_id: str,
    messages: list[dict[str, str]],
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
    timeout_s: float | None = None,
    dialect: ServerDialect = DEFAULT_DIALECT,
) -> Generation:
    """Send one streamed request and time it; raises ModelError/RequestTimeout (one line).

    ``timeout_s`` bounds the whole request (default: the client's); ``dialect`` says
    what the server adds to the request and counts differently."""
    if timeout_s is None:
        timeout_s = client.timeout_s
    body = encode_request(
        model_id, messages, max_tokens=max_tokens, temperature=temperature, seed=seed, dialect=dialect
    )
    url = client.base_url
    pieces: list[str] = []
    content_ns: list[int] = []
    usage_tokens: int | None = None
    finish_reason: str | None = None
    done = False
    events = 0
    decoder = SseDecoder()
    loads = json.loads
    reasoning: list[str] = []  # reasoning deltas' text
    answer = AnswerStart()
    answer_ns: int | None = None
    usage_reasoning: int | None = None
    start_ns = time.perf_counter_ns()
    end_ns = start_ns
    with client.exchange(
        body, label=model_id, timeout_s=timeout_s, deadline_ns=start_ns + int(timeout_s * 1e9)
    ) as exchange:
        try:
            for arrival_ns, data in exchange.chunks():
                for payload in decoder.feed(data):
                    events += 1
                    if payload == _DONE:
                        done, end_ns = True, arrival_ns
                        break
                    try:
                        event = loads(payload)
                        error = event.get("error")
                        if error is not None:
                            raise ModelError(
                                f"{model_id}: server error: {_error_text(error)}",
                                detail=payload.decode("utf-8", "replace"),
                            )
                        for choice in event.get("choices") or ():
                            delta = choice.get("delta")
                            if delta:
                                content = delta.get("content")
                                if content:
                                    pieces.append(content)
                                    content_ns.append(arrival_ns)
                                    if answer_ns is None and answer.started(content):
                                        answer_ns = arrival_ns
                                # A reasoning model's thinking, in a delta field of its own.
                                thought = delta.get("reasoning_content") or delta.get("reasoning")
                                if thought:
                                    reasoning.append(str(thought))
                                    content_ns.append(arrival_ns)
                            if choice.get("finish_reason"):
                                finish_reason = str(choice["finish_reason"])
                        usage = event.get("usage")
                        if usage:
                            tokens = usage.get("completion_tokens")
                            if isinstance(tokens, int) and not isinstance(tokens, bool):
                                usage_tokens = tokens
                            details = usage.get("completion_tokens_details") or {}
                            thinking = details.get("reasoning_tokens") if isinstance(details, dict) else None
                            if isinstance(thinking, int) and not isinstance(thinking, bool) and thinking > 0:
                                usage_reasoning = thinking
                    except (ValueError, AttributeError, TypeError):
                        raise ModelError(
                            f"{model_id}: malformed event {events} in the stream from {url}: "
                            f"{_excerpt(payload)}",
                            detail=payload.decode("utf-8", "replace"),
                        ) from None
                if done:
                    break
            else:
                end_ns = time.perf_counter_ns()
                for payload in decoder.close():
                    events += 1
                    if payload == _DONE:
                        done = True
                    else:
                        # An event cut off by the end of the body, never complete.
                        raise ModelError(
                            f"{model_id}: the stream from {url} ended inside event {events}: "
                            f"{_excerpt(payload)}"
                        )
        except NotAnEventStream as exc:
            raise ModelError(
                f"{model_id}: the answer from {url} is not an event stream "
                f"(line {decoder.lines}: {_excerpt(exc.line)})"
            ) from None
    if not done and finish_reason is None:
        raise ModelError(
            f"{model_id}: the stream from {url} ended without a finish reason or [DONE] "
            f"after {len(pieces)} content chunks "
            "(the server closed the connection before the answer finished)"
        )
    if any(type(piece) is not str for piece in pieces):
        raise ModelError(f"{model_id}: malformed stream from {url}: a content delta is not text")
    text = "".join(pieces)
    timing = StreamTiming(
        answer_ns=answer_ns,
        reasoning_tokens=usage_reasoning or answer.reasoning_estimate(text, reasoning),
        start_ns=start_ns,
        end_ns=end_ns,
        content_ns=tuple(content_ns),
        completion_tokens=answer_tokens(usage_tokens, finish_reason, dialect),
        estimated_tokens=max(1, round(len(text) / CHARS_PER_TOKEN_ESTIMATE)) if text else 0,
        finish_reason=finish_reason,
    )
    return Generation(
        model_id=model_id,
        text=text,
        metrics=compute_request_metrics(timing),
        max_tokens=max_tokens,
        seed=seed,
        temperature=temperature,
        start_ns=start_ns,
    )


def answer_tokens(usage_tokens: int | None, finish_reason: str | None, dialect: ServerDialect) -> int | None:
    """The answer's token count from ``usage.completion_tokens``, as Foundry Local counts it.

    llama.cpp counts the end-of-generation token it sampled but never sends, so an answer
    that ended by itself (``stop``) is one token shorter than its usage says; one cut at
    ``max_tokens`` (``length``) sampled no end token.  Left as it is, TPOT would divide by
    one token too many."""
    if usage_tokens is None or not dialect.usage_counts_end_token or finish_reason != "stop":
        return usage_tokens
    return max(0, usage_tokens - 1)


class AnswerStart:
    """Tells when the answer starts in content that may open with ``<think>...</think>``
    (tags split across chunks included).  Costs one check a chunk until it has started."""

    def __init__(self) -> None:
        self._seen = ""

    def started(self, content: str) -> bool:
        self._seen += content
        head = self._seen.lstrip()
        if not head:
            return False
        if not "<think>".startswith(head[:7]):
            return True  # neither "<think>" nor the start of it: no thinking block
        from pytest_foundry.snapshot_compare import without_reasoning

        return bool(without_reasoning(self._seen).strip()) and "</think>" in self._seen

    def reasoning_estimate(self, text: str, reasoning: list[str]) -> int | None:
        """Reasoning tokens estimated from their text (~4 characters a token), when the
        server did not count them; None when there was no reasoning."""
        thinking = "".join(reasoning)
        if "<think>" in text:
            from pytest_foundry.snapshot_compare import reasoning_text

            thinking += reasoning_text(text)
        if not thinking:
            return None
        return max(1, round(len(thinking) / CHARS_PER_TOKEN_ESTIMATE))


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail") or json.dumps(error)[:_EXCERPT]
        return native_message(message)
    return native_message(error)


def _excerpt(payload: bytes) -> str:
    text = payload.decode("utf-8", "replace")
    return repr(text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…")
