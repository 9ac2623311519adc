"""Several managed engines behind the one Runtime interface.

No pytest imports.  A run may compare Foundry Local models (each in a model host) with
GGUF models served by llama.cpp: each request goes to the runtime of its engine
(``ModelRequest.engine``), started only when a model of that engine is first loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pytest_foundry.runtime.base import Engine, LoadedModel, ModelRequest, ProgressCallback, Runtime


class EngineRouter:
    """Sends each model to its engine's runtime; every started runtime is closed at the end."""

    name = "foundry-local"
    isolated = True  # each engine it routes to starts a process per load (a host, a server)

    def __init__(self, factories: Mapping[Engine, Callable[[], Runtime]]) -> None:
        self._factories = dict(factories)
        self._runtimes: dict[Engine, Runtime] = {}

    def runtime(self, engine: Engine) -> Runtime:
        runtime = self._runtimes.get(engine)
        if runtime is None:
            runtime = self._factories[engine]()
            runtime.start()
            self._runtimes[engine] = runtime
        return runtime

    def start(self) -> None:
        """Engines start on their first model: a run of Foundry models never looks for
        llama-server, nor one of GGUF models for the SDK."""

    def memory_pid(self) -> int | None:
        return None  # each managed model names its own process (LoadedModel.pid)

    def load(self, request: ModelRequest, progress: ProgressCallback | None = None) -> LoadedModel:
        return self.runtime(request.engine).load(request, progress)

    def failure_cause(self, model: LoadedModel) -> str | None:
        runtime = self._runtimes.get(model.request.engine)
        return runtime.failure_cause(model) if runtime is not None else None

    def unload(self, model: LoadedModel) -> None:
        runtime = self._runtimes.get(model.request.engine)
        if runtime is not None:
            runtime.unload(model)

    def close(self) -> None:
        runtimes, self._runtimes = self._runtimes, {}
        for runtime in runtimes.values():
            runtime.close()
