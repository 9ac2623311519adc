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
from typing import Literal, Protocol

ModelSource = Literal["embedded", "folder", "catalog", "endpoint"]
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

    @property
    def slug(self) -> str:
        return self.request.slug


class Runtime(Protocol):
    """Start, resolve + load, unload, close: the lifecycle the session drives."""

    name: str  # "foundry-local" or "endpoint"
    # Every load starts a fresh process of its own (a model host): a reload is a true
    # cold start, so the pool may sample several (--foundry-cold-starts).
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
