"""Foundry Local with each model in a host process of its own (see ``model_host.py``).

No pytest imports.  ``load`` starts a host for the model and waits for it to report
ready; the pytest process is then only a client of the host's web service, through the
same HTTP path as any endpoint.  ``unload`` stops the host and waits for it to exit, so
the model's memory is gone.  A host that dies (the OOM killer, a native abort) fails
only its own model: ``failure_cause`` tells how it ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pytest_foundry.errors import ModelError, ModelUnavailable, one_line
from pytest_foundry.runtime.base import EngineInfo, LoadedModel, ModelRequest, ProgressCallback
from pytest_foundry.runtime.catalog import CatalogSettings
from pytest_foundry.runtime.model_host import HostSpec

# A host that was asked to stop gets this long to exit before it is killed.
STOP_TIMEOUT_S = 30.0
# After Ctrl-C, a loading host gets this long to cancel its download and exit.
INTERRUPT_TIMEOUT_S = 10.0


def describe_exit(returncode: int | None) -> str:
    """``exited with signal 9 (SIGKILL: out of memory?)`` / ``exited with status 3``."""
    if returncode is None:
        return "is still running"
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        hint = ": out of memory?" if number == signal.SIGKILL else ""
        return f"exited with signal {number} ({name}{hint})"
    return f"exited with status {returncode}"


@dataclass
class Host:
    """One running host process and what it reported."""

    slug: str
    process: subprocess.Popen[str]
    log_path: Path
    stopping: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_cause(self) -> str | None:
        """How the host ended, when it ended without being asked to."""
        code = self.process.poll()
        if code is None or self.stopping:
            return None
        return f"{self.slug}: model host {describe_exit(code)}"


class HostedRuntime:
    """Each model in a child process that runs Foundry Local and serves it on 127.0.0.1."""

    name = "foundry-local"
    isolated = True  # a host process per load

    def __init__(self, cache_dir: Path | None = None, catalog: CatalogSettings | None = None) -> None:
        self._cache_dir = cache_dir
        self._catalog = catalog
        self._hosts: dict[str, Host] = {}  # model id -> host
        self._logs_dir: Path | None = None

    def start(self) -> None:
        if self._logs_dir is None:
            self._logs_dir = Path(tempfile.mkdtemp(prefix="pytest-foundry-hosts-"))

    def memory_pid(self) -> int | None:
        return None  # each loaded model names its own host (LoadedModel.pid)

    def load(self, request: ModelRequest, progress: ProgressCallback | None = None) -> LoadedModel:
        self.start()
        assert self._logs_dir is not None
        log_path = self._logs_dir / f"{request.slug}.log"
        spec = HostSpec.for_request(request, self._cache_dir, self._catalog)
        with log_path.open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "pytest_foundry.runtime.model_host"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                encoding="utf-8",
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        host = Host(request.slug, process, log_path)
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(spec.dumps() + "\n")
            process.stdin.flush()
            ready = _await_ready(host, process.stdout, progress)
        except KeyboardInterrupt:
            # Ctrl-C while loading: the host gets it too (to cancel a download cleanly),
            # and must not outlive us.
            self._stop(host, interrupt=True)
            raise
        except BaseException:
            self._stop(host)
            raise
        loaded = ready["loaded"]
        model = LoadedModel(
            request=request,
            model_id=loaded["model_id"],
            base_url=loaded["base_url"],
            source=loaded["source"],
            path=Path(loaded["path"]) if loaded["path"] else None,
            device=loaded["device"],
            execution_provider=loaded["execution_provider"],
            load_s=loaded["load_s"],
            extra=dict(loaded.get("extra") or {}),
            license=loaded.get("license"),
            capabilities=tuple(loaded.get("capabilities") or ()),
            pid=host.pid,
            rss_before_load=ready.get("rss_before_load"),
            rss_after_load=ready.get("rss_after_load"),
            engine=EngineInfo(name="foundry-local", version=_sdk_version()),
        )
        self._hosts[_host_key(model)] = host
        return model

    def failure_cause(self, model: LoadedModel) -> str | None:
        host = self._hosts.get(_host_key(model))
        return host.exit_cause() if host is not None else None

    def unload(self, model: LoadedModel) -> None:
        host = self._hosts.pop(_host_key(model), None)
        if host is not None:
            self._stop(host)

    def close(self) -> None:
        for key in list(self._hosts):
            self._stop(self._hosts.pop(key))

    @staticmethod
    def _stop(host: Host, *, interrupt: bool = False) -> None:
        """Ask the host to stop, wait for it to exit, kill it if it does not (never raises).

        ``interrupt``: it is still loading, so it cannot read "stop"; SIGINT makes the
        SDK cancel a download, leaving a download it can resume."""
        host.stopping = True
        process = host.process
        if process.poll() is None and interrupt:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGINT)
        elif process.poll() is None and process.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                process.stdin.write("stop\n")
                process.stdin.close()
        try:
            process.wait(timeout=INTERRUPT_TIMEOUT_S if interrupt else STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5.0)
        finally:
            if process.stdout is not None:
                with contextlib.suppress(OSError):
                    process.stdout.close()


def _sdk_version() -> str | None:
    """foundry-local-sdk's version: what the engine's version is, to the user."""
    from importlib import metadata

    try:
        return f"foundry-local-sdk {metadata.version('foundry-local-sdk')}"
    except metadata.PackageNotFoundError:
        return None


def _host_key(model: LoadedModel) -> str:
    """A host per model id and slug (the judge may serve an id a tested model serves)."""
    return f"{model.model_id}@{model.slug}"


def _await_ready(host: Host, stream: IO[str], progress: ProgressCallback | None) -> dict[str, Any]:
    """Read the host's events until it is ready; a failure raises ModelError (one line)."""
    started = time.perf_counter()
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        # Read in a thread, so the main thread stays responsive to Ctrl-C.
        for line in stream:
            lines.append(line)
            if '"event": "ready"' in line or '"event": "error"' in line:
                break
        done.set()

    reader = threading.Thread(target=read, name=f"host-{host.slug}", daemon=True)
    reader.start()
    seen = 0
    while True:
        finished = done.wait(0.1)
        while seen < len(lines):
            event = _event(lines[seen])
            seen += 1
            if event.get("event") == "progress" and progress is not None:
                progress(str(event.get("name", host.slug)), float(event.get("fraction", 0.0)))
            elif event.get("event") == "ready":
                return event
            elif event.get("event") == "error":
                kind = ModelUnavailable if event.get("kind") == "unavailable" else ModelError
                raise kind(
                    str(event.get("message") or f"{host.slug}: model host failed"),
                    detail=str(event.get("detail") or "") or None,
                )
        if finished:
            code = host.process.wait()
            elapsed = time.perf_counter() - started
            raise ModelError(
                one_line(
                    f"{host.slug}: model host {describe_exit(code)} after {elapsed:.1f} s before it was "
                    f"ready (log: {host.log_path})"
                )
            )


def _event(line: str) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}
