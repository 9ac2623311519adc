"""A real llama-server on SmolLM2's GGUF through the managed lifecycle: start, health,
measure (memory, CPU time, tokens counted as Foundry counts them), a crash told in one
line, stop."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from pytest_foundry.errors import ModelError
from pytest_foundry.model_pool import ModelPool, PoolSettings
from pytest_foundry.model_selection import model_requests
from pytest_foundry.prompts import PromptSpec
from pytest_foundry.runtime.llama_server import LlamaServerRuntime

pytestmark = pytest.mark.llama_cpp

SETTINGS = PoolSettings(timeout_s=120.0, temperature=0.0, seed=42, max_tokens=48, model_warmup=1)
PROMPT = PromptSpec(id="hello", prompt="Say hello in one short sentence.")
MIB = 1 << 20


@pytest.fixture
def pool(llama_server, smollm2_gguf, tmp_path):
    (request,) = model_requests([str(smollm2_gguf)], None, tmp_path)
    pool = ModelPool(lambda: LlamaServerRuntime(threads=1, binary=llama_server), SETTINGS, PROMPT)
    pool.add(request)
    yield pool, request.slug
    pool.close()


def test_a_gguf_model_is_served_measured_and_stopped(pool, smollm2_gguf):
    pool, slug = pool
    assert slug == "SmolLM2-135M-Instruct.Q4_1@llama.cpp"
    model = pool.acquire(slug)
    loaded = model.loaded
    assert loaded is not None
    # Named by its file, wherever it lies: snapshot headers and the gate stay portable.
    assert loaded.model_id == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert (loaded.source, loaded.path, loaded.device) == ("gguf", smollm2_gguf, "CPU")
    assert loaded.engine is not None
    assert (loaded.engine.name, loaded.engine.threads, loaded.engine.context) == ("llama.cpp", 1, 4096)
    assert loaded.engine.version
    assert loaded.load_s is not None
    assert loaded.load_s > 0
    assert model.cold_ttft_s is not None
    # Its own process: RSS before the model (the bare binary) and after it.
    server = psutil.Process(loaded.pid)
    assert "llama-server" in server.name()
    assert loaded.rss_before_load is not None
    assert loaded.rss_after_load is not None
    assert loaded.rss_after_load - loaded.rss_before_load > 50 * MIB  # the 98 MB model, mapped in

    generation = pool.request(model, PROMPT.messages(), 48, 42)
    metrics = generation.metrics
    assert generation.text.strip()
    assert not metrics.tokens_estimated
    if metrics.finish_reason == "stop":
        # One content chunk a token: the end token llama.cpp counts in its usage is not counted.
        assert metrics.output_tokens == len(metrics.gaps_s) + 1
    assert metrics.cpu_per_token_s is not None
    assert metrics.cpu_per_token_s > 0
    assert model.peak_rss is not None
    assert model.peak_rss >= loaded.rss_after_load - 16 * MIB

    pool.release(slug)
    assert not psutil.pid_exists(loaded.pid) or server.status() == psutil.STATUS_ZOMBIE


def test_a_killed_server_fails_its_model_with_how_it_ended(pool):
    pool, slug = pool
    model = pool.acquire(slug)
    assert model.loaded is not None
    os.kill(model.loaded.pid, signal.SIGKILL)
    with pytest.raises(ModelError, match=r"llama-server exited with signal 9 \(SIGKILL: out of memory\?\)"):
        pool.request(model, PROMPT.messages(), 16, 42)
    # Later requests fail at once with the same reason.
    with pytest.raises(ModelError, match="signal 9"):
        pool.request(model, PROMPT.messages(), 16, 42)


def test_a_truncated_gguf_fails_to_load_with_the_server_s_reason(llama_server, smollm2_gguf, tmp_path):
    truncated = tmp_path / "truncated.gguf"
    with smollm2_gguf.open("rb") as source:
        truncated.write_bytes(source.read(5_000_000))
    (request,) = model_requests([str(truncated)], None, tmp_path)
    runtime = LlamaServerRuntime(threads=1, binary=llama_server)
    try:
        with pytest.raises(ModelError) as failure:
            runtime.load(request)
    finally:
        runtime.close()
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("truncated@llama.cpp: llama-server exited with status 1 after ")
    assert "error loading model" in message
    assert "not within the file bounds" in message


def test_a_killed_pytest_process_takes_its_llama_server_with_it(llama_server, smollm2_gguf, tmp_path):
    import subprocess
    import sys
    import time

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from pytest_foundry.model_selection import model_requests\n"
        "from pytest_foundry.runtime.llama_server import LlamaServerRuntime\n"
        "(request,) = model_requests([sys.argv[1]], None, Path.cwd())\n"
        "loaded = LlamaServerRuntime(threads=1, binary=Path(sys.argv[2])).load(request)\n"
        "print(loaded.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(smollm2_gguf), str(llama_server)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        server = psutil.Process(int(parent.stdout.readline()))
        parent.kill()  # no chance to stop its server
        parent.wait()
        deadline = time.monotonic() + 30
        while server.is_running() and server.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "llama-server outlived the process that started it"
            time.sleep(0.1)
    finally:
        parent.kill()
        parent.wait()
