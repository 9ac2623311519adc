"""The catalog path end to end: the real SDK against the catalog emulator, sealed.

Every inner run is ``pytest bench_tests`` (a copy of the project's real bench suite) in
a loopback-only network namespace, against ``tests/support/fake_catalog.py``; see
``tests/support/sealed.py``.  Skips where the machine cannot make such a namespace.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from typing import Any

import pytest
from sealed import Sealed, make_sealed

pytestmark = pytest.mark.usefixtures("sealing")

DOWNLOAD_KINDS = {"registry", "list", "head", "get"}
CAT_FILES = {"genai_config.json", "model.onnx", "model.onnx.data", "tokenizer.json", "tokenizer_config.json"}


def kinds(step: dict[str, Any]) -> list[str]:
    return [r["kind"] for r in step["requests"]]


def gets(step: dict[str, Any], variant: str) -> list[str]:
    return [r["file"] for r in step["requests"] if r["kind"] == "get" and r["variant"] == variant]


def error_lines(step: dict[str, Any], slug: str) -> set[str]:
    """The distinct one-line reasons printed for ``slug``'s tests."""
    return set(re.findall(rf"^{re.escape(slug)}: .*$", step["stdout"], re.MULTILINE))


def assert_no_traceback(step: dict[str, Any]) -> None:
    text = step["stdout"] + step["stderr"]
    assert "Traceback" not in text, text[-3000:]


def summary(step: dict[str, Any]) -> str:
    lines = [line for line in step["stdout"].splitlines() if line.startswith("=")]
    return lines[-1] if lines else step["stdout"][-2000:]


# -- 1, 2, 7: download with progress, then the cache; report and results -----------------
@pytest.fixture(scope="module")
def first_and_cached(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sealed, list[dict[str, Any]]]:
    sealed = make_sealed(tmp_path_factory.mktemp("catalog-cache"))
    models = "--foundry-models=tiny-cat,tiny-cat@gpu"
    steps = sealed.run(
        # The first run writes the snapshots the second one compares with.
        {"wiring": "region", "args": sealed.args(models, "--snapshot-update", "-rs", report=True)},
        {"wiring": "region", "args": sealed.args(models, "-rs"), "inspect": str(sealed.cache_dir)},
    )
    return sealed, steps


def test_alias_resolves_to_cpu_variant_downloads_with_progress_and_passes(
    first_and_cached: tuple[Sealed, list[dict[str, Any]]],
) -> None:
    sealed, (first, _) = first_and_cached
    assert first["returncode"] == 0, first["stdout"][-3000:]
    assert re.search(r"6 passed, 6 skipped", summary(first)), summary(first)
    # The progress bar reached the terminal although pytest captured test output.
    bars = re.findall(r"downloading tiny-cat-generic-cpu:1 \[[#.]{30}\]\s+([\d.]+)%", first["stdout"])
    assert bars[0] == "0.0", bars
    assert bars[-1] == "100.0", bars
    assert len(bars) >= 3, bars
    assert "cuda" not in " ".join(bars)
    # The CPU variant's files came from the emulator, once each, and nothing of the GPU one.
    assert sorted(gets(first, "tiny-cat-generic-cpu")) == sorted(CAT_FILES)
    assert not [r for r in first["requests"] if r["variant"] == "tiny-cat-cuda-gpu"]
    folders = sealed.cached_model_folders()
    assert [p.name for p in folders] == ["tiny-cat-generic-cpu-1"]
    assert not (folders[0] / "download.tmp").exists()
    assert_no_traceback(first)


def test_gpu_variant_is_skipped_on_a_cpu_machine_with_the_reason(
    first_and_cached: tuple[Sealed, list[dict[str, Any]]],
) -> None:
    _, (first, _) = first_and_cached
    reasons = set(re.findall(r"^SKIPPED \[\d+\] \S+ (.*)$", first["stdout"], re.MULTILINE))
    assert reasons == {
        "no variant of tiny-cat for device gpu (this machine: cpu); variants: "
        "tiny-cat-cuda-gpu:1 (gpu/CUDAExecutionProvider), tiny-cat-generic-cpu:1 (cpu/CPUExecutionProvider)"
    }


def test_second_run_uses_the_cache_with_no_download_traffic(
    first_and_cached: tuple[Sealed, list[dict[str, Any]]],
) -> None:
    _, (_, cached) = first_and_cached
    assert cached["returncode"] == 0, cached["stdout"][-3000:]
    assert "6 passed" in summary(cached)
    assert "2 snapshots passed" in cached["stdout"]  # the same text as the first run
    assert "downloading" not in cached["stdout"]
    assert DOWNLOAD_KINDS.isdisjoint(kinds(cached)), kinds(cached)
    assert "catalog" in kinds(cached)  # the alias was still resolved through the catalog


def test_report_and_results_show_the_catalog_record(
    first_and_cached: tuple[Sealed, list[dict[str, Any]]],
) -> None:
    sealed, _ = first_and_cached
    results = json.loads((sealed.report_dir / "results.json").read_text())
    by_slug = {m["slug"]: m for m in results["models"]}
    model = by_slug["tiny-cat"]
    folder = sealed.cached_model_folders()[0]
    on_disk = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert [set(start) for start in model.pop("cold_starts")] == [
        {"load_s", "cold_ttft_s", "rss_after_load_bytes"}
    ]
    assert model | {"memory": None, "load_s": None, "cold_ttft_s": None, "files_sha256": None} == {
        "slug": "tiny-cat",
        "requested": "tiny-cat",
        "model_id": "tiny-cat-generic-cpu:1",  # the variant id
        "source": "catalog",
        "path": str(folder),
        "execution_provider": "CPUExecutionProvider",
        "device": "CPU",
        "files_sha256": None,
        "disk_bytes": on_disk,
        "license": "mit",  # from the catalog record
        "capabilities": ["chat-completion", "tools"],  # ditto
        "notes": None,
        "status": "ok",
        "reason": None,
        "load_s": None,
        "cold_ttft_s": None,
        "memory": None,
        "engine": {
            "name": "foundry-local",
            "version": f"foundry-local-sdk {importlib.metadata.version('foundry-local-sdk')}",
            "threads": None,
        },
    }
    assert re.fullmatch(r"[0-9a-f]{64}", model["files_sha256"])
    gpu = by_slug["tiny-cat@gpu"]
    assert gpu["status"] == "skipped"
    assert gpu["reason"].startswith("no variant of tiny-cat for device gpu")
    report = (sealed.report_dir / "report.md").read_text()
    row = next(line for line in report.splitlines() if "| tiny-cat-generic-cpu:1 |" in line)
    assert f"catalog: {folder}" in row
    assert "CPU / CPUExecutionProvider" in row
    assert "0.7 MiB" in row  # the disk footprint
    assert re.search(r"^\| tiny-cat \|.*\| mit \| chat-completion, tools \|", report, re.MULTILINE)


# -- 3: Ctrl-C mid-download ------------------------------------------------------------
def test_ctrl_c_mid_download_leaves_no_cached_half_model_and_next_run_resumes(sealed: Sealed) -> None:
    stalled, slowed, again = sealed.run(
        # A stalled transfer: the SDK never looks at its cancel event, so it is abandoned.
        {
            "wiring": "region",
            "args": sealed.args("--foundry-models=stalls"),
            "stall": {"stalls-generic-cpu": "model.onnx.data"},
            "interrupt_on": {"kind": "get", "file": "model.onnx.data", "after_s": 0.5},
            "inspect": str(sealed.cache_dir),
            "timeout_s": 60,
        },
        # A live, slow transfer: the cancel event stops the download after that file.
        {
            "wiring": "region",
            "args": sealed.args("--foundry-models=slow"),
            "slow": {"slow-generic-cpu": "model.onnx"},
            "interrupt_on": {"kind": "get", "file": "model.onnx", "after_s": 0.3},
            "inspect": str(sealed.cache_dir),
            "timeout_s": 60,
        },
        {
            "wiring": "region",
            "args": sealed.args("--foundry-models=stalls,slow", "--snapshot-update"),
            "inspect": str(sealed.cache_dir),
        },
    )
    for step in (stalled, slowed):
        assert step["interrupted_at_s"] is not None
        assert step["returncode"] == 2, step["stdout"][-3000:]  # pytest's "interrupted"
        assert "KeyboardInterrupt" in step["stdout"]
        # Ctrl-C is honoured promptly, stalled transfer or not.
        assert step["duration_s"] - step["interrupted_at_s"] < 15

    def left(step: dict[str, Any], variant: str) -> set[str]:
        folder = f"Microsoft/{variant}-1/"
        return {f.removeprefix(folder) for f in step["files"] if f.startswith(folder)}

    # The SDK's marker says "unfinished"; the completion record is absent.
    assert "download.tmp" in left(stalled, "stalls-generic-cpu")
    assert "inference_model.json" not in left(stalled, "stalls-generic-cpu")
    slow_left = left(slowed, "slow-generic-cpu")
    assert "download.tmp" in slow_left
    assert "inference_model.json" not in slow_left
    # Cancelled, not abandoned: the SDK released its download lock, and asked for no file
    # after the one in flight.
    assert ".download.lock" not in slow_left
    assert "model.onnx.data" not in gets(slowed, "slow-generic-cpu")

    # The next run fetches only what was missing, and passes.
    assert again["returncode"] == 0, again["stdout"][-3000:]
    assert "12 passed" in summary(again)
    assert gets(again, "stalls-generic-cpu") == ["model.onnx.data"]
    fetched = set(gets(again, "slow-generic-cpu"))
    # Files finished before the cancel are kept; the one in flight and the rest are fetched.
    finished_before = set(gets(slowed, "slow-generic-cpu")) - {"model.onnx"}
    assert finished_before == {"tokenizer_config.json", "genai_config.json"}
    assert fetched == CAT_FILES - finished_before
    for variant in ("stalls-generic-cpu", "slow-generic-cpu"):
        done = left(again, variant)
        assert "inference_model.json" in done
        assert "download.tmp" not in done
        assert not [f for f in done if f.endswith(".dlstate")]


# -- 4: the catalog is down ------------------------------------------------------------
def test_catalog_down_gives_one_line_fast_and_the_other_models_run(sealed: Sealed) -> None:
    (down,) = sealed.run(
        {
            "wiring": "region",
            "catalog_status": 503,
            "args": sealed.args(
                "--foundry-models=tiny-cat,tiny-b-cat,tiny",
                "--snapshot-update",
                "--durations=0",
                "--durations-min=0",
            ),
        }
    )
    assert down["returncode"] == 1
    assert re.search(r"6 passed, 12 errors", summary(down)), summary(down)
    url = down["wiring"]["catalog_url"]
    for slug in ("tiny-cat", "tiny-b-cat"):
        assert error_lines(down, slug) == {f"{slug}: catalog unreachable (HTTP 503 from {url})"}
    # One bounded probe per catalog model (each loads in a host process of its own), and
    # each alias fails at once: the SDK's ~4.5 s retry loop never runs.
    assert kinds(down) == ["catalog", "catalog"]
    setups = {
        name: float(seconds)
        for seconds, name in re.findall(
            r"^([\d.]+)s setup\s+\S+::(test_\w+\[[\w.-]+\])$", down["stdout"], re.M
        )
    }
    # Each alias's setup starts its host (Foundry Local) and probes once: no retry loop.
    assert setups["test_latency[tiny-cat-rag]"] < 4.0, setups
    assert setups["test_latency[tiny-b-cat-rag]"] < 4.0, setups
    assert_no_traceback(down)


# -- 5: unknown alias, registry 404, truncated blob --------------------------------------
def test_unknown_alias_registry_404_and_truncated_blob_each_give_one_line(sealed: Sealed) -> None:
    (faulty,) = sealed.run(
        {
            "wiring": "region",
            "registry_404": ["reg-404-generic-cpu"],
            "truncate": {"cut-short-generic-cpu": "model.onnx"},
            "args": sealed.args(
                "--foundry-models=nosuch,reg-404,cut-short,gpu-only,tiny", "--snapshot-update", "-rs"
            ),
            "inspect": str(sealed.cache_dir),
        }
    )
    url = faulty["wiring"]["catalog_url"]
    assert faulty["returncode"] == 1
    assert re.search(r"6 passed, 6 skipped, 18 errors", summary(faulty)), summary(faulty)
    assert error_lines(faulty, "nosuch") == {f"nosuch: alias nosuch not in the catalog {url}"}
    (registry,) = error_lines(faulty, "reg-404")
    assert registry.startswith("reg-404: download of reg-404-generic-cpu:1 failed: model registry API")
    assert "HTTP 404" in registry
    assert error_lines(faulty, "cut-short") == {
        "cut-short: download of cut-short-generic-cpu:1 failed: short read from blob stream at offset 0: "
        "got 7196 of 14392 bytes"
    }
    assert "no variant of gpu-only for this device (cpu); variants: gpu-only-cuda-gpu:1" in faulty["stdout"]
    # Neither failed download looks cached.
    assert not [f for f in faulty["files"] if f.endswith("inference_model.json")]
    assert_no_traceback(faulty)


# -- 6: proxy mode, the user's default configuration --------------------------------------
def test_proxy_mode_works_with_no_plugin_option(sealed: Sealed) -> None:
    (proxied,) = sealed.run(
        {"wiring": "proxy", "args": sealed.args("--foundry-models=tiny-b-cat", "--snapshot-update")}
    )
    assert proxied["returncode"] == 0, proxied["stdout"][-3000:]
    assert "6 passed" in summary(proxied)
    assert "downloading tiny-b-cat-generic-cpu:1" in proxied["stdout"]
    assert "--foundry-catalog" not in " ".join(proxied["args"])
    tunnels = {(r["path"], r["status"]) for r in proxied["requests"] if r["kind"] == "connect"}
    # The public catalog and the registry through the proxy; anything else refused.
    assert ("api.catalog.azureml.ms:443", 200) in tunnels
    assert any(path.endswith(".api.azureml.ms:443") and status == 200 for path, status in tunnels)
    assert all(status == 403 for path, status in tunnels if not path.split(":")[0].endswith(".azureml.ms"))
    # Catalog and registry requests arrived through the tunnels, under their real names.
    hosts = {r["host"] for r in proxied["requests"] if r["kind"] in ("catalog", "registry")}
    assert "api.catalog.azureml.ms" in hosts
    assert all(h == "api.catalog.azureml.ms" or h.endswith(".api.azureml.ms") for h in hosts), hosts
    assert sorted(gets(proxied, "tiny-b-cat-generic-cpu")) == sorted(CAT_FILES)
