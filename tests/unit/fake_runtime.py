"""A fake Foundry runtime and chat client for unit tests of the session's stages.

The runtime counts its lifecycle calls; the client answers with scripted metrics, so a
test knows exactly which figures each stage must produce.  Nothing here opens a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pytest_foundry.errors import ModelError, RequestTimeout
from pytest_foundry.metrics import StreamTiming, compute_request_metrics
from pytest_foundry.options import resolve_settings
from pytest_foundry.runtime.base import (
    DEFAULT_DIALECT,
    LoadedModel,
    ModelRequest,
    ProgressCallback,
    ServerDialect,
)
from pytest_foundry.runtime.streaming import Generation

MS = 1_000_000  # ns


def generation(
    model_id: str,
    *,
    ttft_ms: float = 10.0,
    gap_ms: float = 2.0,
    tokens: int = 5,
    text: str = "hello world",
    finish: str = "stop",
    max_tokens: int = 16,
    seed: int = 42,
    temperature: float = 0.0,
) -> Generation:
    """A Generation whose metrics follow from the arguments (TTFT, a gap per token)."""
    content = tuple(int((ttft_ms + i * gap_ms) * MS) for i in range(tokens))
    timing = StreamTiming(
        start_ns=0,
        end_ns=content[-1] + MS,
        content_ns=content,
        completion_tokens=tokens,
        estimated_tokens=tokens,
        finish_reason=finish,
    )
    metrics = compute_request_metrics(timing)
    return Generation(model_id, text, metrics, max_tokens, seed, temperature)


@dataclass
class FakeRuntime:
    """Loads whatever is asked, except the slugs in ``broken``."""

    broken: dict[str, str] = field(default_factory=dict)  # slug -> load error
    name: str = "fake"
    isolated: bool = False  # True: like a model host, every load a fresh process
    started: int = 0
    closed: int = 0
    loads: list[str] = field(default_factory=list)
    unloads: list[str] = field(default_factory=list)
    dead: dict[str, str] = field(default_factory=dict)  # slug -> how its host ended
    pid: int | None = None  # the process each loaded model names, if any

    def start(self) -> None:
        self.started += 1

    def load(self, request: ModelRequest, progress: ProgressCallback | None = None) -> LoadedModel:
        if request.slug in self.broken:
            raise ModelError(self.broken[request.slug])
        self.loads.append(request.slug)
        return LoadedModel(
            request=request,
            model_id=f"{request.slug}-generic-cpu:1",
            base_url=f"fake://{request.slug}/v1",
            source="folder",
            path=request.path,
            device="CPU",
            execution_provider="CPUExecutionProvider",
            load_s=0.25,
            pid=self.pid,
            rss_before_load=1000 if self.pid else None,
        )

    def memory_pid(self) -> int | None:
        return None

    def failure_cause(self, model: LoadedModel) -> str | None:
        return self.dead.get(model.slug)

    def unload(self, model: LoadedModel) -> None:
        self.unloads.append(model.slug)

    def close(self) -> None:
        self.closed += 1


@dataclass
class FakeChat:
    """Scripted answers per model id: a list of Generations or exceptions, used in turn;
    the last entry repeats.  Records every request it got."""

    script: dict[str, list[Generation | Exception]] = field(default_factory=dict)
    requests: list[tuple[str, int, int, float]] = field(default_factory=list)
    sent: list[list[dict[str, str]]] = field(default_factory=list)  # each request's messages
    clients: list[FakeClient] = field(default_factory=list)

    def __call__(
        self, base_url: str, timeout_s: float, dialect: ServerDialect = DEFAULT_DIALECT
    ) -> FakeClient:
        client = FakeClient(self, base_url)
        self.clients.append(client)
        return client


@dataclass
class FakeClient:
    chat_script: FakeChat
    base_url: str
    closed: bool = False

    def chat(
        self, model_id: str, messages: list[dict[str, str]], *, max_tokens: int, temperature: float, seed: int
    ) -> Generation:
        assert not self.closed, "request on a closed client"
        self.chat_script.requests.append((model_id, max_tokens, seed, temperature))
        self.chat_script.sent.append(messages)
        answers = self.chat_script.script.get(model_id) or [generation(model_id)]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return Generation(answer.model_id, answer.text, answer.metrics, max_tokens, seed, temperature)

    def close(self) -> None:
        self.closed = True


def settings(tmp_path: Path, **options: str):
    """Settings as the plugin resolves them, from ``--foundry-<name>`` values."""
    cli = {f"foundry_{name.replace('-', '_')}": value for name, value in options.items()}
    cli.setdefault("foundry_report", "none")
    return resolve_settings(cli, {}, {}, tmp_path, tmp_path)


__all__ = ["FakeChat", "FakeRuntime", "ModelError", "RequestTimeout", "generation", "settings"]
