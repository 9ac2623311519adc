"""The one small interface every model runtime implements.

No pytest imports.  A runtime starts once per session, resolves requested model names
to something it can serve, loads (and later unloads) them, and hands out the OpenAI-
compatible base URL that requests go to.  Requests themselves are runtime-independent
(see ``streaming.py``): both backends speak ``/chat/completions`` with streaming.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

ModelSource = Literal["embedded", "folder", "catalog", "endpoint", "gguf"]
# Which engine serves a model: Foundry Local (a model host), or llama.cpp's llama-server
# for a .gguf file (``llama_server.py``).
Engine = Literal["foundry-local", "llama.cpp"]
# (model name, fraction 0..1) while a catalog model downloads.
ProgressCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class ModelRequest:
    """What the user asked for, after models.json aliases were expanded."""

    requested: str  # as typed: alias, full id or folder
    slug: str  # stable id for test ids and snapshot folders
    path: Path | None = None  # a local model folder, when the request is one
    model_id: str | None = None  # an explicit id (models.json "id", or the request itself)
    license: str | None = None
    capabilities: tuple[str, ...] = ()
    notes: str | None = None
    size_mb: float | None = None
    engine: Engine = "foundry-local"


@dataclass(frozen=True)
class ServerDialect:
    """How a server's OpenAI-compatible streaming differs from Foundry Local's, so its
    figures mean the same: fields to add to every request body, and whether its
    ``usage.completion_tokens`` counts the end-of-generation token (llama.cpp's does)."""

    name: str = "openai"
    body_extra: tuple[tuple[str, Any], ...] = ()
    usage_counts_end_token: bool = False


DEFAULT_DIALECT = ServerDialect()


@dataclass(frozen=True)
class EngineInfo:
    """The engine that served a model, as results.json records it."""

    name: Engine
    version: str | None
    threads: int | None = None  # None: the engine's own choice
    context: int | None = None  # context window the server was started with


@dataclass
class LoadedModel:
    """A model the runtime serves: where to send requests and what it cost to load."""

    request: ModelRequest
    model_id: str  # full id name:version, as the server wants it in requests
    base_url: str  # OpenAI-compatible base URL (ends in /v1)
    source: ModelSource
    path: Path | None
    device: str | None
    execution_provider: str | None
    load_s: float | None  # None when the runtime did not load it (endpoint)
    extra: dict[str, str] = field(default_factory=dict)
    # The process that serves this model alone (a model host), and its resident memory
    # just before and after the load; None where the runtime shares one process.
    pid: int | None = None
    rss_before_load: int | None = None
    rss_after_load: int | None = None
    # From the catalog record, for catalog models (models.json entries take precedence).
    license: str | None = None
    capabilities: tuple[str, ...] = ()
    dialect: ServerDialect = DEFAULT_DIALECT
    engine: EngineInfo | None = None

    @property
    def slug(self) -> str:
        return self.request.slug


class Runtime(Protocol):
    """Start, resolve + load, unload, close: the lifecycle the session drives."""

    name: str  # "foundry-local", "llama.cpp" or "endpoint"
    # Every load starts a fresh process of its own (a model host, a llama-server): a
    # reload is a true cold start, so the pool may sample several (--foundry-cold-starts).
    isolated: bool

    def start(self) -> None:
        """Start the runtime (idempotent)."""

    def load(self, request: ModelRequest, progress: ProgressCallback | None = None) -> LoadedModel:
        """Resolve and load a model; raises ModelError with a one-line reason."""

    def memory_pid(self) -> int | None:
        """The process whose memory grows with loaded models (None when unknown, or
        when each LoadedModel names its own ``pid``)."""

    def failure_cause(self, model: LoadedModel) -> str | None:
        """Why a loaded model can no longer answer (its host died), or None."""

    def unload(self, model: LoadedModel) -> None:
        """Release a loaded model (best effort, never raises)."""

    def close(self) -> None:
        """Stop everything started (idempotent, never raises)."""
