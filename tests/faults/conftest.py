"""Fixtures for the fault-injection suite: a misbehaving OpenAI-compatible server and
inner plugin runs against it (subprocesses, so nothing leaks between runs)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from misbehaving_server import MisbehavingServer

REPO = Path(__file__).resolve().parents[2]
LATENCY_TEST = (REPO / "bench_tests" / "test_latency.py").read_text(encoding="utf-8")
PROMPT = {"id": "hello", "prompt": "Say hello."}


@pytest.fixture
def misbehaving() -> Iterator[MisbehavingServer]:
    """A started server in the well-behaved ``foundry`` mode; set ``.mode`` to misbehave."""
    with MisbehavingServer() as server:
        yield server


@dataclass
class PluginRun:
    result: pytest.RunResult
    report_dir: Path

    @property
    def output(self) -> str:
        return self.result.stdout.str() + "\n" + self.result.stderr.str()

    def results(self) -> dict[str, Any]:
        return json.loads((self.report_dir / "results.json").read_text(encoding="utf-8"))

    def cells(self) -> dict[str, dict[str, Any]]:
        """results.json's cells by requested model id."""
        data = self.results()
        requested = {model["slug"]: model["requested"] for model in data["models"]}
        return {requested[cell["model"]]: cell for cell in data["cells"]}

    def assert_no_traceback(self) -> None:
        assert "Traceback" not in self.output, self.output
        assert "INTERNALERROR" not in self.output, self.output
        assert not re.search(r"^\S+\.py:\d+: \w+(Error|Exception)$", self.output, re.MULTILINE), self.output


@pytest.fixture
def run_plugin(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory):
    """``run_plugin(server, models, *extra)``: the bench latency test over the server as
    ``--foundry-endpoint``, one prompt, 2 rounds, a 1 s timeout, a report folder."""
    pytester.makepyfile(test_latency=LATENCY_TEST)
    prompts = pytester.path / "prompts.json"
    prompts.write_text(json.dumps({"prompts": [PROMPT]}), encoding="utf-8")

    def run(server: MisbehavingServer, models: list[str], *extra: str) -> PluginRun:
        report_dir = tmp_path_factory.mktemp("report")
        result = pytester.runpytest_subprocess(
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            f"--basetemp={tmp_path_factory.mktemp('basetemp')}",
            f"--foundry-endpoint={server.base_url}",
            f"--foundry-models={','.join(models)}",
            f"--foundry-prompts={prompts}",
            f"--foundry-report={report_dir}",
            f"--foundry-cache-dir={tmp_path_factory.mktemp('cache')}",
            "--foundry-rounds=2",
            "--foundry-warmup=0",
            "--foundry-model-warmup=0",
            "--foundry-cold-starts=1",
            "--foundry-max-tokens=16",
            "--foundry-timeout=1",
            *extra,
            timeout=60,
        )
        return PluginRun(result, report_dir)

    return run


@pytest.fixture(autouse=True)
def _no_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workshop's environment variables must not leak into inner runs."""
    for name in ("BENCH_MODELS", "BENCH_ROUNDS", "BENCH_MAX_TOKENS", "FOUNDRY_LOCAL_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
