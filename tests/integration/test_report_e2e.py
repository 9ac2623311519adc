"""End to end: a two-model run writes every report file, and each one parses."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser

from pytest_foundry.results_file import load_results


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href") and value and value.startswith(("http://", "https://")):
                self.external.append(value)


def test_two_model_run_writes_all_report_files(inner, tiny_b):
    inner.write_prompts()
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST, test_outputs=inner.OUTPUT_TEST)
    report_dir = inner.pytester.path / "out"
    result = inner.run(
        f"--foundry-models=tiny,{tiny_b}", f"--foundry-report={report_dir}", "--snapshot-update"
    )
    result.assert_outcomes(passed=16)
    inner.assert_no_traceback(result)
    # The terminal summary ends with the report's path.
    result.stdout.fnmatch_lines([f"pytest-foundry report: {report_dir / 'report.html'}"])

    results = load_results(report_dir / "results.json")  # validates against the schema
    assert [m["slug"] for m in results["models"]] == ["tiny", "tiny-b"]
    assert all(m["status"] == "ok" and m["load_s"] is not None for m in results["models"])
    assert all(m["disk_bytes"] and m["files_sha256"] for m in results["models"])
    assert all(m["memory"] and m["memory"]["peak_rss_bytes"] for m in results["models"])
    cells = {(c["model"], c["prompt"]): c for c in results["cells"]}
    assert len(cells) == 8
    assert all(len(c["samples"]) == 2 and c["output"] for c in cells.values())
    assert results["fingerprint"]["packages"]["foundry-local-sdk"]

    with (report_dir / "results.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    assert {row[next(iter(row))] for row in rows} == {"tiny", "tiny-b"}

    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "| tiny " in markdown
    assert "| tiny-b " in markdown
    assert "cost" in markdown.lower()
    assert "estimate" in markdown.lower()

    tags = _Tags()
    tags.feed((report_dir / "report.html").read_text(encoding="utf-8"))
    assert tags.counts.get("table", 0) >= 2
    assert tags.counts.get("svg", 0) >= 4
    assert tags.external == []


def test_failed_model_is_in_the_report_with_its_reason(inner, tmp_path):
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST)
    report_dir = inner.pytester.path / "out"
    missing = tmp_path / "no-such-model"
    result = inner.run(f"--foundry-models=tiny,{missing}", f"--foundry-report={report_dir}")
    result.assert_outcomes(passed=2, errors=2)
    results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    failed = next(m for m in results["models"] if m["slug"] == "no-such-model")
    assert failed["status"] == "load-failed"
    assert "does not exist" in failed["reason"]
    statuses = {c["status"] for c in results["cells"] if c["model"] == "no-such-model"}
    assert statuses == {"load-failed"}
    assert "load-failed" in (report_dir / "report.md").read_text(encoding="utf-8")
