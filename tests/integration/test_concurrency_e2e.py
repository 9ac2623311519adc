"""End to end: the concurrency sweep on the real runtime with the embedded model."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_foundry.results_file import load_results

# The suite users run, read from bench_tests/ itself.
REPO = Path(__file__).resolve().parents[2]
CONCURRENCY_TEST = (REPO / "bench_tests" / "test_concurrency.py").read_text(encoding="utf-8")


def test_the_sweep_records_every_level_and_the_report_plots_it(inner):
    inner.write_prompts()
    inner.pytester.makepyfile(test_concurrency=CONCURRENCY_TEST)
    report_dir = inner.pytester.path / "out"
    result = inner.run(
        "-v",
        "--foundry-concurrency=1,2",
        "--foundry-concurrency-requests=4",
        f"--foundry-report={report_dir}",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_concurrency?tiny-c1? PASSED*", "*test_concurrency?tiny-c2? PASSED*"])
    inner.assert_no_traceback(result)

    sweep = load_results(report_dir / "results.json")["concurrency"]  # validated on load
    assert sweep["levels_requested"] == [1, 2]
    levels = {level["level"]: level for level in sweep["levels"]}
    assert sorted(levels) == [1, 2]
    for n, level in levels.items():
        assert (level["model"], level["status"], level["requests"], level["errors"]) == ("tiny", "ok", 4, 0)
        assert level["prompt"] == "rag_principle"  # the run's first prompt
        samples = level["samples"]
        assert {sample["stream"] for sample in samples} == set(range(n))
        assert sum(sample["output_tokens"] for sample in samples) == level["output_tokens"] > 0
        span = max(s["end_s"] for s in samples) - min(s["start_s"] for s in samples)
        assert level["wall_s"] == pytest.approx(span)
        assert level["system_tps"] == pytest.approx(level["output_tokens"] / level["wall_s"])
        for sample in samples:
            assert sample["start_s"] <= sample["first_token_s"] <= sample["end_s"]
            assert sample["e2e_s"] == pytest.approx(sample["end_s"] - sample["start_s"])
        assert level["summary"]["e2e_s"]["n"] == 4
        assert 0.0 <= level["decode_overlap"] <= 1.0
        assert 0.0 < level["mean_in_flight"] <= n + 1e-9
        assert level["peak_rss_bytes"] > 0
    assert levels[1]["speedup"] == 1.0
    assert levels[2]["speedup"] == pytest.approx(levels[2]["system_tps"] / levels[1]["system_tps"])
    assert levels[1]["decode_overlap"] == 0.0  # one stream never overlaps itself
    (verdict,) = sweep["verdicts"]
    assert verdict["model"] == "tiny"
    assert verdict["verdict"] in ("serialises", "parallel", "shares")

    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="plot-concurrency"' in page
    assert '<section id="concurrency">' in page
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "## Concurrency sweep" in markdown
    assert f"- tiny: {verdict['text']}" in markdown.replace("\\", "")
