"""One timed, streamed chat request through the ``openai`` client.

No pytest imports, no retries: the timed region holds exactly one request, from the
call that sends it to the end of the stream (``[DONE]``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import openai

from pytest_foundry.errors import ModelError, RequestTimeout, native_message, one_line
from pytest_foundry.metrics import RequestMetrics, StreamTiming, compute_request_metrics

# Without usage from the server, N_out is estimated from the text (~4 characters a token
# for English BPE vocabularies) and flagged as estimated; chunks are never counted.
CHARS_PER_TOKEN_ESTIMATE = 4


@dataclass(frozen=True)
class Generation:
    """The text one request produced, with its timing metrics."""

    model_id: str
    text: str
    metrics: RequestMetrics
    max_tokens: int
    seed: int
    temperature: float

    @property
    def finish_reason(self) -> str | None:
        return self.metrics.finish_reason


def make_client(base_url: str, timeout_s: float) -> openai.OpenAI:
    """An OpenAI client for a local server: no retries (they would hide failures and
    pollute timings) and a per-request timeout."""
    return openai.OpenAI(
        base_url=base_url,
        api_key="not-needed-for-local",
        max_retries=0,
        timeout=timeout_s,
    )


def stream_chat(
    client: openai.OpenAI,
    model_id: str,
    messages: list[dict[str, str]],
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
    timeout_s: float,
) -> Generation:
    """Send one streamed request and time it; raises ModelError/RequestTimeout (one line)."""
    pieces: list[str] = []
    content_ns: list[int] = []
    usage_tokens: int | None = None
    finish_reason: str | None = None
    deadline_ns = time.perf_counter_ns() + int(timeout_s * 1e9)
    start_ns = time.perf_counter_ns()
    try:
        stream: Any = client.chat.completions.create(  # type: ignore[call-overload]
            model=model_id,
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            stream=True,
            stream_options={"include_usage": True},
        )
        with stream:
            for chunk in stream:
                now_ns = time.perf_counter_ns()
                if now_ns > deadline_ns:
                    raise RequestTimeout(f"{model_id}: request exceeded the {timeout_s:g} s timeout")
                if chunk.usage is not None and chunk.usage.completion_tokens is not None:
                    usage_tokens = int(chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.delta is not None and choice.delta.content:
                        content_ns.append(now_ns)
                        pieces.append(choice.delta.content)
                    if choice.finish_reason:
                        finish_reason = str(choice.finish_reason)
        end_ns = time.perf_counter_ns()
    except RequestTimeout:
        raise
    except openai.APITimeoutError:
        raise RequestTimeout(f"{model_id}: no answer within the {timeout_s:g} s timeout") from None
    except openai.APIConnectionError as exc:
        raise ModelError(
            f"{model_id}: cannot reach {client.base_url} ({one_line(str(exc.__cause__ or exc))})"
        ) from None
    except openai.APIStatusError as exc:
        raise ModelError(
            f"{model_id}: HTTP {exc.status_code} from {client.base_url}: {_api_message(exc)}"
        ) from None
    except openai.APIError as exc:
        # A streamed validation error arrives as HTTP 200 with one error event.
        raise ModelError(f"{model_id}: server error: {native_message(exc.message)}") from None
    text = "".join(pieces)
    timing = StreamTiming(
        start_ns=start_ns,
        end_ns=end_ns,
        content_ns=tuple(content_ns),
        completion_tokens=usage_tokens,
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
    )


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return native_message(error["message"])
    return native_message(exc.message)
