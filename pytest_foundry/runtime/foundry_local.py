"""Foundry Local in-process runtime (``foundry-local-sdk`` 2.x).

No pytest imports.  The SDK is imported lazily, so ``pytest --help`` stays fast and a
missing native library only matters once a model is actually needed.

* Local model folders (and the embedded model) are registered through BYOM in the local
  catalog, idempotently: registrations persist in the model cache, registering an id
  twice raises, and a registration may point at an old folder (another clone).
* Catalog aliases (the public catalog, or those in ``CatalogSettings``) are probed
  first (``catalog.probe``, bounded), so an alias that cannot resolve says why at once
  instead of stalling ~4.5 s per model; the variant for this machine's execution
  providers is chosen (never a silent CPU fallback) and downloaded with progress.  The
  download runs in a worker thread so Ctrl-C cancels it; the SDK's ``download.tmp``
  marker keeps a half download from looking cached, and the next run resumes it.
* One web service on 127.0.0.1:<free port> serves every model: BYOM models under
  ``<url>/catalogs/local/v1``, catalog models under ``<url>/v1``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from pytest_foundry.errors import ModelError, native_message, one_line
from pytest_foundry.runtime.base import LoadedModel, ModelRequest, ProgressCallback
from pytest_foundry.runtime.catalog import (
    CatalogSettings,
    CatalogUnreachable,
    CatalogVariant,
    available_providers,
    probe,
    select_variant,
    split_device,
)
from pytest_foundry.runtime.embedded import EMBEDDED_MODEL_ID, EMBEDDED_NAMES, embedded_model_path

APP_NAME = "pytest-foundry"
# After Ctrl-C, how long a download may take to notice its cancel event.  The SDK checks
# it only between chunks, so a stalled transfer never does: then it is abandoned.
CANCEL_GRACE_S = 2.0


def byom_model_id(folder: Path) -> str:
    """A stable BYOM id for a model folder: ``<folder-name>-generic-cpu:1``-style.

    The id depends on the folder's name only (not its absolute path), so snapshot
    headers stay the same across clones and machines.
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.name).strip("-.") or "model"
    return f"{name}:1"


def _device_of(variant: Any, path: Path | None) -> tuple[str | None, str | None]:
    """(device, execution provider) of a variant; BYOM variants carry neither, so fall
    back to genai_config.json's provider options (none = the CPU provider)."""
    runtime = getattr(getattr(variant, "info", None), "runtime", None)
    device = getattr(runtime, "device_type", None)
    device = getattr(device, "value", device)  # an enum: its value ("CPU"), not its repr
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
    isolated = False  # models share this process (a model host runs one)

    def __init__(
        self,
        cache_dir: Path | None = None,
        logs_dir: Path | None = None,
        catalog: CatalogSettings | None = None,
    ) -> None:
        self._cache_dir = cache_dir
        self._logs_dir = logs_dir
        self._catalog = catalog or CatalogSettings()
        self._manager: Any = None
        self._owns_manager = False
        self._web_url: str | None = None
        # Why the catalogs could not be asked, once known: later aliases fail at once.
        self._unreachable: str | None = None
        self._abandoned_download = False
        self._provider_names: tuple[str, ...] | None = None  # execution providers, best first
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
                    **self._catalog.sdk_configuration(),
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
        if self._abandoned_download:
            # A native download that ignored its cancel is still running: closing the
            # manager (now or at exit) would wait for it forever.  The process is on its
            # way out after Ctrl-C; the SDK's download.tmp marks the folder unfinished.
            if self._manager is not None and self._owns_manager:
                atexit.unregister(self._manager.close)
            self._loaded.clear()
            self._manager = None
            self._web_url = None
            return
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
        variant, source, path, listing = self._resolve(request, progress)
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
        info = getattr(variant, "info", None) if source == "catalog" else None
        capabilities = str(getattr(info, "capabilities", None) or "")
        return LoadedModel(
            request=request,
            model_id=variant.id,
            base_url=f"{self._web_url}{prefix}",
            source=source,
            path=path,
            device=device,
            execution_provider=provider,
            load_s=load_s,
            license=(getattr(info, "license", None) or (listing.license if listing else None)),
            capabilities=tuple(c.strip() for c in capabilities.split(",") if c.strip())
            or (listing.capabilities if listing else ()),
        )

    def unload(self, model: LoadedModel) -> None:
        variant = self._loaded.pop(model.model_id, None)
        if variant is not None:
            with contextlib.suppress(Exception):
                variant.unload()

    def _resolve(
        self, request: ModelRequest, progress: ProgressCallback | None
    ) -> tuple[Any, Any, Path | None, CatalogVariant | None]:
        from foundry_local_sdk import CatalogType

        name = request.model_id or request.requested
        if request.path is None and name in EMBEDDED_NAMES:
            path = embedded_model_path()
            return self._register(path, EMBEDDED_MODEL_ID, request), "embedded", path, None
        if request.path is not None:
            if not request.path.is_dir():
                raise ModelError(f"{request.requested}: model folder {request.path} does not exist")
            model_id = (
                request.model_id
                if request.model_id and ":" in request.model_id
                else byom_model_id(request.path)
            )
            return self._register(request.path, model_id, request), "folder", request.path, None
        local = self._manager.get_catalog(CatalogType.LOCAL)
        for lookup in (local.get_model_variant, local.get_model):
            found = lookup(name)
            if found is not None:
                return found, "folder", Path(found.get_path()) if found.get_path() else None, None
        model, listing = self._from_catalog(request, name, progress)
        return model, "catalog", Path(model.get_path()), listing

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

    def _from_catalog(
        self, request: ModelRequest, name: str, progress: ProgressCallback | None
    ) -> tuple[Any, CatalogVariant]:
        """Probe the catalogs, choose the variant for this machine, download it."""
        base, device = split_device(name)
        where = ", ".join(self._catalog.endpoints)
        if self._unreachable is not None:
            raise CatalogUnreachable(f"{request.requested}: catalog unreachable ({self._unreachable})")
        variants, failures = probe(self._catalog, base)
        if not variants:
            if failures and len(failures) == len(self._catalog.endpoints):
                self._unreachable = "; ".join(failures)
                raise CatalogUnreachable(f"{request.requested}: catalog unreachable ({self._unreachable})")
            what = "model id" if ":" in base else "alias"
            also = f" (unreachable: {'; '.join(failures)})" if failures else ""
            raise ModelError(f"{request.requested}: {what} {base} not in the catalog {where}{also}")
        chosen = select_variant(base, variants, self._providers(), device)
        catalog = self._manager.catalog
        try:
            # By id: the SDK's alias lookup filters by device, the id lookup does not,
            # and the variant chosen here is the one to run.
            model = catalog.get_model_variant(chosen.id)
        except Exception as exc:
            raise ModelError(f"{request.requested}: catalog lookup failed: {native_message(exc)}") from None
        if model is None:
            raise ModelError(
                f"{request.requested}: the catalog {where} lists {chosen.id}, but Foundry Local "
                "could not resolve it (see its log)"
            )
        if not model.is_cached:
            self._download(request, model, chosen.id, progress)
        return model, chosen

    def _providers(self) -> tuple[str, ...]:
        if self._provider_names is None:
            try:
                registered = [ep.name for ep in self._manager.discover_eps() if ep.is_registered]
            except Exception:  # an SDK without EP discovery: the CPU provider only
                registered = []
            self._provider_names = available_providers(registered)
        return self._provider_names

    def _download(
        self, request: ModelRequest, model: Any, model_id: str, progress: ProgressCallback | None
    ) -> None:
        """Download in a worker thread: the main thread stays free to take Ctrl-C (a
        native call would hold it), and Ctrl-C sets the SDK's cancel event."""
        cancel = threading.Event()
        failure: list[BaseException] = []
        last = [-1.0]

        def report(value: float) -> None:
            # The SDK repeats values (100 twice at the end): show each step once.
            if progress is not None and value > last[0]:
                last[0] = value
                progress(model_id, min(1.0, value / 100.0))

        finished = threading.Event()

        def work() -> None:
            try:
                model.download(progress_callback=report, cancel_event=cancel)
            except BaseException as exc:  # handed to the main thread
                failure.append(exc)
            finally:
                finished.set()

        # Waits on an Event, not Thread.join: a join interrupted by Ctrl-C can mark a
        # live thread as stopped (CPython 3.11).
        worker = threading.Thread(target=work, name=f"download {model_id}", daemon=True)
        worker.start()
        try:
            while not finished.wait(0.2):
                pass
        except KeyboardInterrupt:
            cancel.set()
            self._abandoned_download = not finished.wait(CANCEL_GRACE_S)
            raise
        if failure:
            reason = _download_reason(failure[0])
            raise ModelError(f"{request.requested}: download of {model_id} failed: {reason}") from None


def _download_reason(exc: BaseException) -> str:
    """The reason of a native download error, without the C++ signature before it."""
    text = str(exc)
    # "file.cc:127 virtual void fl::X::Y(args with (nested) parens) short read ...":
    # skip past the signature's balanced parentheses.
    match = re.match(r"^\s*[\w./\\-]+\.(?:cc|cpp|h):\d+\s+[^(]*\(", text)
    if match:
        depth, index = 1, match.end()
        while index < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[index], 0)
            index += 1
        rest = text[index:].strip()
        if rest:
            return one_line(rest)
    return native_message(exc)
