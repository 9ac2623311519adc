"""The client the model pool sends measured requests through, behind a small protocol.

No pytest imports.  ``http_chat_client`` is the real one: one timed, streamed request
per call over the model's OpenAI-compatible HTTP endpoint (``streaming.py``).  Tests of
the pool's logic give it a fake with the same two methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pytest_foundry.runtime.base import DEFAULT_DIALECT, ServerDialect

if TYPE_CHECKING:
    from pytest_foundry.runtime.streaming import Generation


class ChatClient(Protocol):
    def chat(
        self,
        model_id: str,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        seed: int,
    ) -> Generation:
        """One measured request; raises ModelError / RequestTimeout with one line."""

    def close(self) -> None:
        """Release connections (idempotent)."""


class HttpChatClient:
    """Streamed chat requests to one base URL (``.../v1``), each timed on its own over a
    fresh connection with a deadline on the whole request (``http_stream.py``), in the
    server's dialect (extra request fields, how its usage counts tokens)."""

    def __init__(self, base_url: str, timeout_s: float, dialect: ServerDialect = DEFAULT_DIALECT) -> None:
        from pytest_foundry.runtime.http_stream import ChatClient as StreamClient

        self.base_url = base_url
        self.timeout_s = timeout_s
        self.dialect = dialect
        self._client = StreamClient(base_url, timeout_s)

    def chat(
        self,
        model_id: str,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        seed: int,
    ) -> Generation:
        from pytest_foundry.runtime.streaming import stream_chat

        return stream_chat(
            self._client,
            model_id,
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            dialect=self.dialect,
        )

    def close(self) -> None:
        self._client.close()


def http_chat_client(base_url: str, timeout_s: float, dialect: ServerDialect = DEFAULT_DIALECT) -> ChatClient:
    return HttpChatClient(base_url, timeout_s, dialect)


def openai_client(base_url: str, timeout_s: float) -> Any:
    """A plain ``openai.OpenAI`` client for untimed calls (the ``foundry_client`` fixture)."""
    from pytest_foundry.runtime.streaming import make_client

    return make_client(base_url, timeout_s)
