"""A model host: one child process that serves one model through Foundry Local.

No pytest imports.  ``python -m pytest_foundry.runtime.model_host`` reads one JSON line
(a HostSpec) on stdin, initialises foundry-local-sdk, registers or downloads and loads
the model, starts the SDK's web service on 127.0.0.1:<free port> and reports on its
protocol stream, one JSON event a line:

* ``{"event": "progress", "name": ..., "fraction": 0..1}`` while a catalog model downloads;
* ``{"event": "ready", "loaded": {...}, "rss_before_load": N, "rss_after_load": N}``;
* ``{"event": "error", "message": "<one line>", "detail": "<full text>"}``, then exit 1.

It then serves until stdin closes (or says "stop"), unloads, stops and exits, so the
model's memory leaves with the process.  Running each model in a host of its own gives
its true memory and a clean cold start, keeps a crash to that model, and keeps BYOM
registrations private: a BYOM model is registered in a cache folder of the host's own,
so two checkouts sharing ``--foundry-cache-dir`` never re-register each other's ids.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from pytest_foundry.errors import FoundryError, ModelUnavailable, native_message, one_line
from pytest_foundry.runtime.base import LoadedModel, ModelRequest
from pytest_foundry.runtime.catalog import CatalogSettings
from pytest_foundry.runtime.embedded import EMBEDDED_NAMES


@dataclass(frozen=True)
class HostSpec:
    """What a host is asked to serve (sent as one JSON line on its stdin)."""

    requested: str
    slug: str
    path: str | None = None
    model_id: str | None = None
    cache_dir: str | None = None  # the shared model cache (catalog downloads)
    catalog: dict[str, Any] | None = None  # CatalogSettings, as a dict

    @classmethod
    def for_request(
        cls, request: ModelRequest, cache_dir: Path | None, catalog: CatalogSettings | None = None
    ) -> HostSpec:
        return cls(
            requested=request.requested,
            slug=request.slug,
            path=str(request.path) if request.path else None,
            model_id=request.model_id,
            cache_dir=str(cache_dir) if cache_dir else None,
            catalog=asdict(catalog) if catalog is not None else None,
        )

    def request(self) -> ModelRequest:
        return ModelRequest(
            requested=self.requested,
            slug=self.slug,
            path=Path(self.path) if self.path else None,
            model_id=self.model_id,
        )

    def dumps(self) -> str:
        return json.dumps(asdict(self))


def loaded_to_json(loaded: LoadedModel) -> dict[str, Any]:
    return {
        "model_id": loaded.model_id,
        "base_url": loaded.base_url,
        "source": loaded.source,
        "path": str(loaded.path) if loaded.path else None,
        "device": loaded.device,
        "execution_provider": loaded.execution_provider,
        "load_s": loaded.load_s,
        "extra": loaded.extra,
        "license": loaded.license,
        "capabilities": list(loaded.capabilities),
    }


def _emitter(stream: IO[str]) -> Any:
    def emit(**event: Any) -> None:
        stream.write(json.dumps(event) + "\n")
        stream.flush()

    return emit


def serve(spec: HostSpec, emit: Any, commands: IO[str]) -> int:
    """Load the model, report, serve until told to stop; the exit status."""
    from pytest_foundry.memory import current_rss
    from pytest_foundry.runtime.foundry_local import FoundryLocalRuntime

    request = spec.request()
    # A BYOM registration lives in a cache of this host's own; only catalog models
    # use the shared cache, where their downloads are kept.
    byom = request.path is not None or (request.model_id or request.requested) in EMBEDDED_NAMES
    private_cache = Path(tempfile.mkdtemp(prefix="pytest-foundry-host-"))
    cache_dir = Path(spec.cache_dir) if spec.cache_dir and not byom else private_cache
    catalog = None
    if spec.catalog is not None:
        catalog = CatalogSettings(**{**spec.catalog, "urls": tuple(spec.catalog.get("urls", ()))})
    runtime = FoundryLocalRuntime(cache_dir=cache_dir, catalog=catalog)
    try:
        runtime.start()
        rss_before = current_rss(os.getpid())
        loaded = runtime.load(
            request, progress=lambda name, fraction: emit(event="progress", name=name, fraction=fraction)
        )
        emit(
            event="ready",
            loaded=loaded_to_json(loaded),
            rss_before_load=rss_before,
            rss_after_load=current_rss(os.getpid()),
        )
    except FoundryError as exc:
        emit(
            event="error",
            message=one_line(str(exc)),
            detail=exc.detail or str(exc),
            # The parent raises the same kind: "unavailable" (no variant here) skips.
            kind="unavailable" if isinstance(exc, ModelUnavailable) else "error",
        )
        runtime.close()
        return 1
    except Exception as exc:  # a broken SDK or native library: still one line
        emit(event="error", message=f"{spec.requested}: {native_message(exc)}", detail=repr(exc))
        runtime.close()
        return 1
    try:
        for line in commands:
            if line.strip() == "stop":
                break
    finally:
        runtime.close()
    return 0


def main() -> int:
    # The protocol gets stdout's descriptor to itself: anything else this process prints
    # (the SDK, the native library) goes to stderr instead.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    emit = _emitter(protocol)
    line = sys.stdin.readline()
    try:
        spec = HostSpec(**json.loads(line))
    except (ValueError, TypeError) as exc:
        emit(event="error", message=f"model host: bad spec: {one_line(str(exc))}", detail=line)
        return 2
    try:
        return serve(spec, emit, sys.stdin)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
