"""End to end: deterministic checks, the embedded model as a judge, and annotations."""

from __future__ import annotations

import json

import pytest

from pytest_foundry.results_file import load_results

CHECKED_PROMPTS = [
    {
        "id": "privacy_benefits",
        "prompt": "List 3 privacy benefits of local inference.",
        "checks": [
            {"type": "min_words", "value": 1, "name": "says something"},
            {"type": "contains", "value": "privacy", "name": "mentions privacy"},
        ],
        "rubric": ["accuracy: real privacy benefits", "clarity"],
    },
    {
        "id": "rag_principle",
        "prompt": "Explain the principle of retrieval augmented generation in 2 sentences.",
        "checks": [{"type": "max_words", "value": 1000, "name": "short enough"}],
    },
]


@pytest.fixture
def checked(inner):
    inner.write_prompts(CHECKED_PROMPTS)
    inner.pytester.makepyfile(test_outputs=inner.ANSWER_TEST)
    inner.report = inner.pytester.path / "out"
    return inner


@pytest.mark.parametrize(("mode", "outcome"), [("report", {"xfailed": 1}), ("fail", {"failed": 1})])
def test_failing_checks_are_reported_by_mode(checked, mode, outcome):
    result = checked.run("-rxf", f"--foundry-checks={mode}", f"--foundry-report={checked.report}")
    result.assert_outcomes(passed=1, **outcome)
    result.stdout.fnmatch_lines(["*1 check(s) failed: mentions privacy*"])
    results = load_results(checked.report / "results.json")
    quality = {c["prompt"]: c["output"]["quality"] for c in results["cells"]}
    assert quality["privacy_benefits"]["checks_score"] == 0.5
    assert [c["passed"] for c in quality["privacy_benefits"]["checks"]] == [True, False]
    assert quality["rag_principle"]["checks_score"] == 1.0
    assert "checks 75%" in (checked.report / "report.md").read_text(encoding="utf-8")


def test_embedded_model_as_judge_records_errors_without_crashing(checked):
    result = checked.run(
        "--foundry-judge=tiny", "--foundry-judge-repeats=2", f"--foundry-report={checked.report}"
    )
    result.assert_outcomes(passed=1, xfailed=1)
    checked.assert_no_traceback(result)
    results = load_results(checked.report / "results.json")
    for cell in results["cells"]:
        judge = cell["output"]["quality"]["judge"]
        # Random weights never answer valid JSON: each repeat is a recorded judge error.
        assert judge["repeats"] == 2
        assert judge["errors"] == 2
        assert judge["mean"] is None
        assert judge["error"]
    # The judge's requests are not the benchmarked model's: no latency rounds recorded.
    assert all(cell["samples"] == [] for cell in results["cells"])


def test_changed_output_shows_its_old_score_as_stale(checked):
    first = checked.run(f"--foundry-report={checked.report}")
    first.assert_outcomes(passed=1, xfailed=1)
    results = json.loads((checked.report / "results.json").read_text(encoding="utf-8"))
    sha = {c["prompt"]: c["output"]["sha256"] for c in results["cells"]}
    annotations = checked.pytester.path / "annotations.json"
    annotations.write_text(
        json.dumps(
            {
                "annotations": [
                    {
                        "model": "tiny",
                        "prompt": "rag_principle",
                        "output_sha256": sha["rag_principle"],
                        "score": 2,
                        "note": "gibberish",
                    },
                    # Scored when the output was different: that hash no longer matches.
                    {
                        "model": "tiny",
                        "prompt": "privacy_benefits",
                        "output_sha256": "0" * 64,
                        "score": 4,
                        "note": "was fine",
                    },
                ]
            }
        ),
        encoding="utf-8",
    )
    second = checked.run(f"--foundry-annotations={annotations}", f"--foundry-report={checked.report}")
    second.assert_outcomes(passed=1, xfailed=1)
    results = load_results(checked.report / "results.json")
    annotation = {c["prompt"]: c["output"]["quality"]["annotation"] for c in results["cells"]}
    assert annotation["rag_principle"]["score"] == 2
    assert annotation["rag_principle"]["stale"] is False
    assert annotation["privacy_benefits"]["stale"] is True
    # The file gained a blank entry for the new output, keeping both scores.
    entries = json.loads(annotations.read_text(encoding="utf-8"))["annotations"]
    blanks = [e for e in entries if e["score"] is None]
    assert [(e["prompt"], e["output_sha256"]) for e in blanks] == [
        ("privacy_benefits", sha["privacy_benefits"])
    ]
    assert len(entries) == 3
    second.stdout.fnmatch_lines([f"1 output(s) await a 1-5 score in {annotations}"])
