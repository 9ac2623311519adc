"""pytest-xdist (-n 2) and CI shards (--foundry-shard=K/N + pytest-foundry merge) give
the record a plain run gives: every cell, n = rounds, one load per model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("xdist")

ROUNDS = 3


def record(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))


def cells(results: dict) -> dict[tuple[str, str], tuple[str, int, int, str | None]]:
    """(model, prompt) -> (status, measured rounds, warm-up rounds, output text)."""
    return {
        (c["model"], c["prompt"]): (
            c["status"],
            len(c["samples"]),
            len(c["warmup"]),
            c["output"]["text"] if c["output"] else None,
        )
        for c in results["cells"]
    }


def models(results: dict) -> dict[str, tuple[str, bool, bool, bool]]:
    """slug -> (status, has a load time, has a cold TTFT, has a peak RSS)."""
    return {
        m["slug"]: (
            m["status"],
            m["load_s"] is not None,
            m["cold_ttft_s"] is not None,
            (m["memory"] or {}).get("peak_rss_bytes") is not None,
        )
        for m in results["models"]
    }


@pytest.fixture
def suite(inner, tiny_b):
    """Latency and output tests over two prompts of two models; snapshots written once."""
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST, test_outputs=inner.OUTPUT_TEST)
    inner.fast[:2] = [f"--foundry-rounds={ROUNDS}", "--foundry-warmup=1"]
    models_option = f"--foundry-models=tiny,{tiny_b}"
    inner.run(models_option, "-p", "no:xdist", "--snapshot-update").assert_outcomes(passed=8)
    return models_option


def test_n_2_gives_the_complete_record_of_a_plain_run(inner, suite):
    plain_dir, xdist_dir = inner.pytester.path / "plain", inner.pytester.path / "xdist"
    plain = inner.run(suite, "-p", "no:xdist", f"--foundry-report={plain_dir}")
    plain.assert_outcomes(passed=8)
    distributed = inner.run(suite, "-n", "2", "-v", f"--foundry-report={xdist_dir}")
    distributed.assert_outcomes(passed=8)
    inner.assert_no_traceback(distributed)
    output = distributed.stdout.str()
    # One load per model, one table, printed by the controller.
    assert inner.model_loads(output) == (2, {"tiny": 1, "tiny-b": 1})
    assert len(re.findall(r"^=+ foundry =+$", output, re.MULTILINE)) == 1
    # Each model's cases ran on one worker.
    workers: dict[str, set[str]] = {}
    for worker, model in re.findall(r"\[(gw\d)\] .*PASSED .*\[(tiny|tiny-b)-\w+\]", output):
        workers.setdefault(model, set()).add(worker)
    assert {model: len(seen) for model, seen in workers.items()} == {"tiny": 1, "tiny-b": 1}

    expected, got = record(plain_dir), record(xdist_dir)
    assert cells(got) == cells(expected)
    assert {status for status, n, warmup, _ in cells(got).values()} <= {"ok", "truncated"}
    assert {(n, warmup) for _, n, warmup, _ in cells(got).values()} == {(ROUNDS, 1)}
    assert models(got) == models(expected) == {slug: ("ok", True, True, True) for slug in ("tiny", "tiny-b")}
    snapshots = {c["output"]["snapshot"] for c in got["cells"]}
    assert snapshots == {"matched"}
    # Only the controller wrote the report folder: one complete set.
    assert sorted(p.name for p in xdist_dir.iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in plain_dir.iterdir() if not p.name.startswith(".")
    )


def test_a_dist_mode_that_splits_a_model_is_refused_with_the_reason(inner, suite):
    result = inner.run(suite, "-n", "2", "--dist", "load")
    result.assert_outcomes(errors=8)
    result.stdout.fnmatch_lines(["*pytest-foundry needs --dist loadgroup under pytest-xdist*--dist load*"])


def test_lockstep_cannot_take_turns_for_several_workers(inner, tiny_b):
    inner.pytester.makepyfile(test_outputs=inner.ANSWER_TEST)
    result = inner.run("-n", "2", f"--foundry-lockstep={inner.pytester.path / 'pair.lock'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--foundry-lockstep pairs one run with one other run*without -n*"])


def test_two_shards_merge_into_the_record_of_a_plain_run(inner, suite):
    plain_dir = inner.pytester.path / "plain"
    inner.run(suite, "-p", "no:xdist", f"--foundry-report={plain_dir}").assert_outcomes(passed=8)
    shard_dirs = []
    for index in (1, 2):
        folder = inner.pytester.path / f"shard-{index}"
        result = inner.run(
            suite, "-p", "no:xdist", f"--foundry-shard={index}/2", f"--foundry-report={folder}"
        )
        result.assert_outcomes(passed=4, deselected=4)
        shard_dirs.append(folder)
        assert record(folder)["run"]["shard"]["index"] == index
    # tiny-b sorts after tiny: shard 1 measures tiny, shard 2 tiny-b.
    assert [record(folder)["run"]["shard"]["models"] for folder in shard_dirs] == [["tiny"], ["tiny-b"]]
    merged_dir = inner.pytester.path / "merged"
    merge = subprocess.run(
        [sys.executable, "-m", "pytest_foundry", "merge", *map(str, shard_dirs), "--output", str(merged_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert merge.returncode == 0, merge.stdout + merge.stderr
    assert "merged 2 shard(s): complete" in merge.stdout
    merged, expected = record(merged_dir), record(plain_dir)
    assert cells(merged) == cells(expected)
    assert models(merged) == models(expected)
    assert (merged_dir / "report.html").is_file()
    assert "**Merged:** shards 1/2, 2/2 · complete" in (merged_dir / "report.md").read_text(encoding="utf-8")

    # Shard 2 lost (its job failed before writing): the merge says so, exit 1.
    partial = subprocess.run(
        [sys.executable, "-m", "pytest_foundry", "merge", str(shard_dirs[0]), "--output", str(merged_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert partial.returncode == 1
    assert "shard 2/2 is missing: no results for tiny-b" in partial.stdout
