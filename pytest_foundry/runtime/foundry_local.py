"""Foundry Local in-process runtime (``foundry-local-sdk`` 2.x).

No pytest imports.  The SDK is imported lazily, so ``pytest --help`` stays fast and a
missing native library only matters once a model is actually needed.

* Local model folders (and the embedded model) are registered through BYOM in the local
  catalog, idempotently: registrations persist in the model cache, registering an id
  twice raises, and a registration may point at an old folder (another clone).
* Public-catalog aliases are downloaded (with progress) when the catalog is reachable;
  when it is not, they fail at once instead of stalling ~4.5 s per model.
* One web service on 127.0.0.1:<free port> serves every model: BYOM models under
  ``<url>/catalogs/local/v1``, catalog models under ``<url>/v1``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from pytest_foundry.errors import ModelError, native_message, one_line
from pytest_foundry.runtime.base import LoadedModel, ModelRequest, ProgressCallback
from pytest_foundry.runtime.embedded import EMBEDDED_MODEL_ID, EMBEDDED_NAMES, embedded_model_path

APP_NAME = "pytest-foundry"
# The host the SDK's public catalog lives on.  Offline, its DNS lookup fails at once,
# which tells us not to ask the SDK (whose query stalls ~4.5 s, then returns nothing).
PUBLIC_CATALOG_HOST = "api.catalog.azureml.ms"


def byom_model_id(folder: Path) -> str:
    """A stable BYOM id for a model folder: ``<folder-name>-generic-cpu:1``-style.

    The id depends on the folder's name only (not its absolute path), so snapshot
    headers stay the same across clones and machines.
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.name).strip("-.") or "model"
    return f"{name}:1"


def _catalog_reachable() -> bool:
    try:
        socket.getaddrinfo(PUBLIC_CATALOG_HOST, 443)
    except OSError:
        return False
    return True


def _device_of(variant: Any, path: Path | None) -> tuple[str | None, str | None]:
    """(device, execution provider) of a variant; BYOM variants carry neither, so fall
    back to genai_config.json's provider options (none = the CPU provider)."""
    runtime = getattr(getattr(variant, "info", None), "runtime", None)
    device = getattr(runtime, "device_type", None)
    provider = getattr(runtime, "execution_provider", None) or None
    if device or provider:
        return (str(device) if device else None), provider
    if path is not None:
        import json

        try:
            config = json.loads((path / "genai_config.json").read_text())
            providers = config["model"]["decoder"]["session_options"].get("provider_options", [])
            names = [name for option in providers for name in option]
        except (OSError, ValueError, KeyError, TypeError):
            return None, None
        if not names:
            return "CPU", "CPUExecutionProvider"
        return ("GPU" if names[0].lower() in {"cuda", "dml", "webgpu"} else names[0].upper()), names[0]
    return None, None


class FoundryLocalRuntime:
    """Runs models in this process through the Foundry Local SDK."""

    name = "foundry-local"

    def __init__(self, cache_dir: Path | None = None, logs_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._logs_dir = logs_dir
        self._manager: Any = None
        self._owns_manager = False
        self._web_url: str | None = None
        self._catalog_ok: bool | None = None
        self._loaded: dict[str, Any] = {}  # model id -> SDK model

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self._manager is not None:
            return
        try:
            from foundry_local_sdk import Configuration, FoundryLocalManager, LogLevel
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ModelError(f"foundry-local-sdk cannot be imported: {one_line(str(exc))}") from None
        try:
            if FoundryLocalManager.instance is not None:
                # The manager is a process singleton: share one someone else started
                # (and leave closing it to them).
                self._manager = FoundryLocalManager.instance
            else:
                config = Configuration(
                    app_name=APP_NAME,
                    model_cache_dir=str(self._cache_dir) if self._cache_dir else None,
                    logs_dir=str(self._logs_dir) if self._logs_dir else None,
                    log_level=LogLevel.WARNING,
                    web=Configuration.WebService(urls="http://127.0.0.1:0"),
                )
                FoundryLocalManager.initialize(config)
                self._manager = FoundryLocalManager.instance
                self._owns_manager = True
            if self._manager.urls:
                self._web_url = self._manager.urls[0]
            else:
                self._manager.start_web_service()
                self._web_url = self._manager.urls[0]
        except Exception as exc:
            self.close()
            raise ModelError(f"Foundry Local failed to start: {native_message(exc)}") from None

    @property
    def web_url(self) -> str | None:
        return self._web_url

    def memory_pid(self) -> int | None:
        # Models run inside this process.
        return os.getpid()

    def failure_cause(self, model: LoadedModel) -> str | None:
        return None  # in this process: a crash takes the caller with it

    def close(self) -> None:
        for model in list(self._loaded.values()):
            with contextlib.suppress(Exception):
                model.unload()
        self._loaded.clear()
        manager, self._manager = self._manager, None
        if manager is None or not self._owns_manager:
            return
        try:
            if manager.urls:
                manager.stop_web_service()
        except Exception:
            pass
        with contextlib.suppress(Exception):
            manager.close()
        self._owns_manager = False
        self._web_url = None

    # -- models ----------------------------------------------------------------------
    def load(self, request: ModelRequest, progress: ProgressCallback | None = None) -> LoadedModel:
        self.start()
        variant, source, path = self._resolve(request, progress)
        start = time.perf_counter_ns()
        try:
            variant.load()
        except Exception as exc:
            reason = native_message(exc)
            where = f" from {path}" if path and str(path) not in reason else ""
            raise ModelError(f"{request.requested}: load failed{where}: {reason}", detail=str(exc)) from None
        load_s = (time.perf_counter_ns() - start) / 1e9
        self._loaded[variant.id] = variant
        device, provider = _device_of(variant, path)
        prefix = "/catalogs/local/v1" if source in ("embedded", "folder") else "/v1"
        return LoadedModel(
            request=request,
            model_id=variant.id,
            base_url=f"{self._web_url}{prefix}",
            source=source,
            path=path,
            device=device,
            execution_provider=provider,
            load_s=load_s,
        )

    def unload(self, model: LoadedModel) -> None:
        variant = self._loaded.pop(model.model_id, None)
        if variant is not None:
            with contextlib.suppress(Exception):
                variant.unload()

    def _resolve(
        self, request: ModelRequest, progress: ProgressCallback | None
    ) -> tuple[Any, Any, Path | None]:
        from foundry_local_sdk import CatalogType

        name = request.model_id or request.requested
        if request.path is None and name in EMBEDDED_NAMES:
            path = embedded_model_path()
            return self._register(path, EMBEDDED_MODEL_ID, request), "embedded", path
        if request.path is not None:
            if not request.path.is_dir():
                raise ModelError(f"{request.requested}: model folder {request.path} does not exist")
            model_id = (
                request.model_id
                if request.model_id and ":" in request.model_id
                else byom_model_id(request.path)
            )
            return self._register(request.path, model_id, request), "folder", request.path
        local = self._manager.get_catalog(CatalogType.LOCAL)
        for lookup in (local.get_model_variant, local.get_model):
            found = lookup(name)
            if found is not None:
                return found, "folder", Path(found.get_path()) if found.get_path() else None
        return self._from_public_catalog(request, name, progress), "catalog", None

    def _register(self, path: Path, model_id: str, request: ModelRequest) -> Any:
        from foundry_local_sdk import CatalogType, ModelInfoBuilder

        if not (path / "genai_config.json").is_file():
            raise ModelError(
                f"{request.requested}: {path} is not an ONNX Runtime GenAI model folder "
                "(no genai_config.json)"
            )
        local = self._manager.get_catalog(CatalogType.LOCAL)
        try:
            existing = local.get_model_variant(model_id)
            if existing is not None:
                same_folder = Path(existing.get_path()).resolve() == path.resolve()
                if same_folder:
                    return existing
                # Registered earlier from another folder (another clone, a moved
                # model): point the id at the folder asked for now.
                local.unregister_model(model_id)
            metadata = ModelInfoBuilder()
            metadata.set_string_property("task", "chat-completion")
            return local.register_model(model_path=str(path.resolve()), model_id=model_id, metadata=metadata)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"{request.requested}: cannot register {path}: {native_message(exc)}") from None

    def _from_public_catalog(
        self, request: ModelRequest, name: str, progress: ProgressCallback | None
    ) -> Any:
        if self._catalog_ok is None:
            self._catalog_ok = _catalog_reachable()
        if not self._catalog_ok:
            raise ModelError(
                f"{request.requested}: unknown model: not a local folder or registered model, and the "
                f"public Foundry catalog ({PUBLIC_CATALOG_HOST}) is unreachable (offline?)"
            )
        catalog = self._manager.catalog
        try:
            model = catalog.get_model_variant(name) if ":" in name else catalog.get_model(name)
        except Exception as exc:
            raise ModelError(f"{request.requested}: catalog lookup failed: {native_message(exc)}") from None
        if model is None:
            self._catalog_ok = bool(catalog.list_models())
            reason = (
                "not in the public Foundry catalog"
                if self._catalog_ok
                else "the public catalog returned nothing (offline?)"
            )
            raise ModelError(f"{request.requested}: unknown model: {reason}")
        if not model.is_cached:
            try:
                model.download(
                    progress_callback=(lambda value: progress(name, value / 100.0)) if progress else None
                )
            except Exception as exc:
                raise ModelError(f"{request.requested}: download failed: {native_message(exc)}") from None
        return model
