"""The client the model pool sends measured requests through, behind a small protocol.

No pytest imports.  ``http_chat_client`` is the real one: one timed, streamed request
per call over the model's OpenAI-compatible HTTP endpoint (``streaming.py``).  Tests of
the pool's logic give it a fake with the same two methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

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
    fresh connection with a deadline on the whole request (``http_stream.py``)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        from pytest_foundry.runtime.http_stream import ChatClient as StreamClient

        self.base_url = base_url
        self.timeout_s = timeout_s
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
            self._client, model_id, messages, max_tokens=max_tokens, temperature=temperature, seed=seed
        )

    def close(self) -> None:
        self._client.close()


def http_chat_client(base_url: str, timeout_s: float) -> ChatClient:
    return HttpChatClient(base_url, timeout_s)


def openai_client(base_url: str, timeout_s: float) -> Any:
    """A plain ``openai.OpenAI`` client for untimed calls (the ``foundry_client`` fixture)."""
    from pytest_foundry.runtime.streaming import make_client

    return make_client(base_url, timeout_s)
