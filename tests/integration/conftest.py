"""Shared helpers for the plugin's integration tests: inner pytest runs through pytester.

Every inner run uses the real Foundry Local runtime with the embedded ``tiny`` model
and/or ``tests/models/tiny-b``, a BYOM model cache in a temporary folder, fast settings
(2 rounds, no warm-up, 16 tokens) and no report.

In-process runs (``Inner.run_inprocess``) share this process's FoundryLocalManager
singleton with the outer test session, so they must only run while no outer fixture
holds a manager; ``Inner.run`` uses a subprocess and is always safe.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

# Imported here, in the outer process, so pytester's in-process runs (which drop the
# modules they import when they end) keep one copy of the SDK and its native library.
import foundry_local_sdk  # noqa: F401
import pytest

from pytest_foundry.runtime.embedded import EMBEDDED_MODEL_ID, embedded_model_path
from pytest_foundry.runtime.streaming import make_client


def _warm_up_http_stack() -> None:
    """Import, in the outer process, what openai imports on its first request.

    pytester's in-process runs drop every module first imported during the run.  The HTTP
    stack under openai (httpx's transport, httpcore2, h11, anyio) is imported lazily on
    the first request; when that happens inside an inner run, the outer process keeps an
    httpx that maps the exceptions of a dropped httpcore2, and later connection errors in
    this process escape as raw ``httpcore2.ConnectError`` instead of openai's errors.  One
    refused request (nothing listens on port 9) imports all of it first.
    """
    client = make_client("http://127.0.0.1:9/v1", 5.0)
    # A refusal is the expected outcome.
    with contextlib.suppress(Exception), client:
        client.chat.completions.create(
            model="warm-up", messages=[{"role": "user", "content": "x"}], max_tokens=1, stream=True
        )


_warm_up_http_stack()

REPO = Path(__file__).resolve().parents[2]
TINY_B = REPO / "tests" / "models" / "tiny-b"

# Workshop-style prompts; ids are what the test ids and snapshot files are named after.
FOUR_PROMPTS = [
    {
        "id": "rag_principle",
        "prompt": "Explain the principle of retrieval augmented generation in 2 sentences.",
    },
    {"id": "privacy_benefits", "prompt": "List 3 privacy benefits of local inference."},
    {"id": "size_latency", "prompt": "Summarize why model size impacts latency on consumer hardware."},
    {"id": "slm_scenarios", "prompt": "Provide two scenarios where an SLM is preferable to an LLM."},
]

# Inner test files: the benchmark suite users copy, read from bench_tests/ itself, so
# the plugin's tests exercise exactly what users run.
LATENCY_TEST = (REPO / "bench_tests" / "test_latency.py").read_text(encoding="utf-8")
OUTPUT_TEST = (REPO / "bench_tests" / "test_outputs.py").read_text(encoding="utf-8")

# An output test without a snapshot: it only needs the model to answer.
ANSWER_TEST = """
def test_answer(foundry_generate, foundry_prompt):
    generation = foundry_generate(foundry_prompt)
    assert generation.metrics.output_tokens > 0
"""

ENV_FALLBACKS = ("BENCH_MODELS", "BENCH_ROUNDS", "BENCH_MAX_TOKENS", "FOUNDRY_LOCAL_ENDPOINT")


@dataclass
class Inner:
    """Runs pytest inside a pytester folder with the plugin's fast test settings.

    Test modules reach the shared inner test files and parsers through the ``inner``
    fixture (``inner.LATENCY_TEST``, ``inner.model_loads(...)``): conftest modules are
    not importable by name reliably (the repository root has one too).
    """

    LATENCY_TEST: ClassVar[str] = LATENCY_TEST
    OUTPUT_TEST: ClassVar[str] = OUTPUT_TEST
    ANSWER_TEST: ClassVar[str] = ANSWER_TEST
    FOUR_PROMPTS: ClassVar[list[dict[str, str]]] = FOUR_PROMPTS

    pytester: pytest.Pytester
    cache_dir: Path
    snapshot_dir: Path
    # Outside the inner rootdir, as in a plain `pytest` run: syrupy's unused-snapshot
    # handling behaves differently when --basetemp lies inside the rootdir (pytester's
    # own default for subprocess runs).
    basetemp: Path
    prompts_file: Path | None = None
    fast: list[str] = field(
        default_factory=lambda: [
            "--foundry-rounds=2",
            "--foundry-warmup=0",
            "--foundry-model-warmup=0",
            "--foundry-cold-starts=1",
            "--foundry-max-tokens=16",
        ]
    )

    def write_prompts(self, prompts: list[dict] | None = None, name: str = "prompts.json") -> Path:
        path = self.pytester.path / name
        path.write_text(json.dumps({"prompts": prompts or FOUR_PROMPTS}), encoding="utf-8")
        self.prompts_file = path
        return path

    def args(self, *extra: str) -> list[str]:
        """Defaults first: a later ``--foundry-x=...`` in ``extra`` overrides them."""
        args = [
            "-p",
            "no:cacheprovider",
            # Hypothesis's plugin (when installed) imports hypothesis in every run's
            # summary; in-process runs drop it again, so each would pay ~1 s for nothing.
            "-p",
            "no:hypothesispytest",
            "--foundry-report=none",
            f"--foundry-cache-dir={self.cache_dir}",
            f"--foundry-snapshot-dir={self.snapshot_dir}",
            f"--basetemp={self.basetemp}",
            *self.fast,
        ]
        if self.prompts_file is not None:
            args.append(f"--foundry-prompts={self.prompts_file}")
        return [*args, *extra]

    def run(self, *extra: str) -> pytest.RunResult:
        """An inner run in a subprocess (its own FoundryLocalManager)."""
        return self.pytester.runpytest_subprocess(*self.args(*extra), timeout=180)

    def run_inprocess(self, *extra: str, **kwargs) -> pytest.RunResult:
        """An inner run in this process: only while no outer manager is alive."""
        from foundry_local_sdk import FoundryLocalManager

        assert FoundryLocalManager.instance is None, "an outer FoundryLocalManager is still alive"
        return self.pytester.runpytest_inprocess(*self.args(*extra), **kwargs)

    def snapshot_files(self) -> dict[str, bytes]:
        """Every file under the snapshot folder, by relative path."""
        if not self.snapshot_dir.exists():
            return {}
        return {
            p.relative_to(self.snapshot_dir).as_posix(): p.read_bytes()
            for p in sorted(self.snapshot_dir.rglob("*"))
            if p.is_file()
        }

    @staticmethod
    def copy_model(source: Path, target: Path) -> Path:
        shutil.copytree(source, target)
        return target

    @staticmethod
    def model_loads(output: str) -> tuple[int, dict[str, int]]:
        """Parse ``model loads: 2 (tiny x1, tiny-b x1)`` from the terminal summary."""
        matches = re.findall(r"^model loads: (\d+) \((.*)\)$", output, re.MULTILINE)
        assert len(matches) == 1, f"expected one 'model loads:' line, got {matches}"
        total, detail = matches[0]
        per_model = {}
        for part in detail.split(", "):
            slug, _, count = part.rpartition(" x")
            per_model[slug] = int(count)
        return int(total), per_model

    @staticmethod
    def assert_no_traceback(result: pytest.RunResult) -> None:
        text = result.stdout.str() + "\n" + result.stderr.str()
        assert "Traceback" not in text
        assert not re.search(r"^\S+\.py:\d+: \w+(Error|Exception)$", text, re.MULTILINE), text


@pytest.fixture(autouse=True)
def _no_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workshop's environment variables must not leak into inner runs."""
    for name in ENV_FALLBACKS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def inner(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> Inner:
    return Inner(
        pytester=pytester,
        cache_dir=tmp_path_factory.mktemp("foundry-cache"),
        snapshot_dir=pytester.path / "snapshots",
        basetemp=tmp_path_factory.mktemp("inner-basetemp"),
    )


@pytest.fixture(scope="session")
def inner_test_files() -> dict[str, object]:
    """The inner test sources and prompts, for fixtures wider than ``inner``."""
    return {
        "LATENCY_TEST": LATENCY_TEST,
        "OUTPUT_TEST": OUTPUT_TEST,
        "ANSWER_TEST": ANSWER_TEST,
        "FOUR_PROMPTS": FOUR_PROMPTS,
    }


@pytest.fixture(scope="session")
def tiny_b() -> Path:
    assert (TINY_B / "genai_config.json").is_file(), "tests/models/tiny-b is missing"
    return TINY_B


@pytest.fixture(scope="module")
def foundry_web_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SDK's own web service, serving the embedded model (registered through BYOM)
    from this (outer) process; yields its OpenAI-compatible base URL for local models."""
    from foundry_local_sdk import CatalogType, Configuration, FoundryLocalManager, LogLevel, ModelInfoBuilder

    assert FoundryLocalManager.instance is None, "another FoundryLocalManager is alive"
    FoundryLocalManager.initialize(
        Configuration(
            app_name="pytest-foundry-tests",
            model_cache_dir=str(tmp_path_factory.mktemp("web-service-cache")),
            log_level=LogLevel.WARNING,
        )
    )
    manager = FoundryLocalManager.instance
    model = None
    try:
        metadata = ModelInfoBuilder()
        metadata.set_string_property("task", "chat-completion")
        model = manager.get_catalog(CatalogType.LOCAL).register_model(
            model_path=str(embedded_model_path()), model_id=EMBEDDED_MODEL_ID, metadata=metadata
        )
        model.load()
        manager.start_web_service()
        yield f"{manager.urls[0]}/catalogs/local/v1"
    finally:
        if manager.urls:
            manager.stop_web_service()
        if model is not None:
            model.unload()
        manager.close()
    assert FoundryLocalManager.instance is None
