"""What the report tables hold: pooled statistics, best marks, flags, failures, quality."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_foundry.cost import estimate_cost
from pytest_foundry.report import formatting as fmt
from pytest_foundry.report.markdown import render_markdown
from pytest_foundry.report.record_reading import pooled_samples, quality_score
from pytest_foundry.report.selection import (
    DETAIL_COLUMNS,
    SELECTION_COLUMNS,
    build_report,
    detail_table,
    selection_table,
)
from pytest_foundry.report.table_cells import Table
from pytest_foundry.results import Results
from pytest_foundry.results_file import load_results

FIXTURE = Path(__file__).parent / "data" / "results.json"


@pytest.fixture
def results() -> Results:
    return copy.deepcopy(_FIXTURE)


_FIXTURE = load_results(FIXTURE)


def _rows(table: Table) -> dict[str, Any]:
    return {row.cells["model"].text: row.cells for row in table.rows}


def _detail(table: Table, model: str, prompt: str) -> Any:
    return next(
        row.cells
        for row in table.rows
        if row.cells["model"].text == model and row.cells["prompt"].text == prompt
    )


def test_column_keys_are_unique_and_every_row_fills_every_column(results: Results) -> None:
    report = build_report(results)
    for table in report.tables:
        keys = [column.key for column in table.columns]
        assert len(keys) == len(set(keys))
        for row in table.rows:
            assert set(row.cells) == set(keys)


def test_selection_pools_the_raw_rounds_of_measured_cells(results: Results) -> None:
    phi = _rows(selection_table(results))["phi-3.5-mini"]
    e2e = [s["e2e_s"] for s in pooled_samples(results, "phi-3.5-mini")]
    ttft = [s["ttft_s"] or 0.0 for s in pooled_samples(results, "phi-3.5-mini")]
    assert len(e2e) == 20  # 4 prompts × 5 rounds, truncated included
    assert phi["n"].text == "20"
    assert phi["e2e_mean"].value == pytest.approx(np.mean(e2e))
    assert phi["e2e_p95"].value == pytest.approx(np.percentile(e2e, 95))
    assert phi["ttft_p50"].value == pytest.approx(np.median(ttft))
    assert phi["e2e_mean"].text == fmt.duration(float(np.mean(e2e)))


def test_errored_cell_is_left_out_of_the_pool_and_coverage_is_shown(results: Results) -> None:
    qwen = _rows(selection_table(results))["qwen2.5-0.5b"]
    assert qwen["n"].text == "15"
    assert qwen["status"].text == "ok · 3/4 prompts"


def test_best_values_are_marked_among_ok_models_only(results: Results) -> None:
    rows = _rows(selection_table(results))
    qwen, phi, broken = rows["qwen2.5-0.5b"], rows["phi-3.5-mini"], rows["broken"]
    for key in ("e2e_mean", "ttft_p50", "decode_tps", "load", "memory", "disk", "cost"):
        assert qwen[key].best, key
        assert not phi[key].best, key
    assert not any(cell.best for cell in broken.values())
    # Columns that are not ranked never carry a mark.
    unranked = {c.key for c in SELECTION_COLUMNS if c.better is None}
    assert not any(cells[key].best for cells in rows.values() for key in unranked)


def test_direction_of_best_follows_the_metric(results: Results) -> None:
    # Make phi decode faster: "higher is better" must move the mark to phi.
    for cell in results["cells"]:
        if cell["model"] == "phi-3.5-mini":
            for sample in cell["samples"]:
                sample["decode_tps"] = 99.0
    rows = _rows(selection_table(results))
    assert rows["phi-3.5-mini"]["decode_tps"].best
    assert not rows["qwen2.5-0.5b"]["decode_tps"].best


def test_no_mark_when_only_one_model_competes(results: Results) -> None:
    results["models"][1]["status"] = "skipped"
    table = selection_table(results)
    assert not table.has_best()
    assert not any("best among" in note for note in table.footnotes())


def test_failed_model_is_listed_with_status_and_reason_and_na_values(results: Results) -> None:
    broken = _rows(selection_table(results))["broken"]
    assert broken["status"].text.startswith("load-failed: genai_config.json not found in models/broken")
    for key in ("e2e_mean", "ttft_p95", "decode_tps", "load", "memory", "disk", "cost"):
        assert broken[key].text == "n/a", key
        assert broken[key].value is None
    assert broken["quality"].text == "—"
    rows = [row for row in detail_table(results).rows if row.cells["model"].text == "broken"]
    assert len(rows) == 4
    assert all(row.cells["status"].text == "load-failed" for row in rows)
    assert all("genai_config.json" in row.cells["reason"].text for row in rows)


def test_model_without_any_cell_still_gets_a_detail_row(results: Results) -> None:
    results["cells"] = [cell for cell in results["cells"] if cell["model"] != "broken"]
    rows = [row for row in detail_table(results).rows if row.cells["model"].text == "broken"]
    assert len(rows) == 1
    assert rows[0].status == "load-failed"
    assert "genai_config.json" in rows[0].cells["reason"].text


def test_small_n_percentiles_are_flagged_and_footnoted(results: Results) -> None:
    selection = selection_table(results)
    rows = _rows(selection)
    # phi pools 20 rounds: reliable; qwen pools 15: flagged.  Medians are never flagged.
    assert rows["phi-3.5-mini"]["e2e_p95"].flags == ()
    assert rows["qwen2.5-0.5b"]["e2e_p95"].flags == ("small_n",)
    assert rows["qwen2.5-0.5b"]["ttft_p95"].flags == ("small_n",)
    assert rows["qwen2.5-0.5b"]["ttft_p50"].flags == ()
    assert "† n < 20: p95/p99 unreliable." in selection.footnotes()
    cell = _detail(detail_table(results), "phi-3.5-mini", "rag_principle")
    assert cell["e2e_p95"].flags == ("small_n",)
    assert cell["e2e_p50"].flags == ()


def test_estimated_token_counts_are_flagged(results: Results) -> None:
    for cell in results["cells"]:
        if cell["model"] == "qwen2.5-0.5b":
            for sample in cell["samples"]:
                sample["tokens_estimated"] = True
    rows = _rows(selection_table(results))
    assert rows["qwen2.5-0.5b"]["decode_tps"].flags == ("estimated",)
    assert rows["phi-3.5-mini"]["decode_tps"].flags == ()
    text = render_markdown(results)
    assert "**45.4‡** ★" in text
    assert "‡ token counts estimated: the server sent no usage." in text


def test_unknown_memory_is_na_never_zero(results: Results) -> None:
    results["models"][0]["memory"] = None
    results["models"][1]["memory"]["peak_rss_bytes"] = None  # type: ignore[index]
    rows = _rows(selection_table(results))
    assert rows["phi-3.5-mini"]["memory"].text == "n/a"
    assert rows["qwen2.5-0.5b"]["memory"].text == "n/a"
    assert not rows["qwen2.5-0.5b"]["memory"].best


def test_cost_uses_the_pooled_median_tpot_and_run_constants(results: Results) -> None:
    results["run"]["power_watts"] = 30.0
    results["run"]["price_per_kwh"] = 0.5
    tpots = [s["tpot_s"] for s in pooled_samples(results, "phi-3.5-mini")]
    expected = estimate_cost(float(np.median([t for t in tpots if t is not None])), 30.0, 0.5)
    assert expected is not None
    cost = _rows(selection_table(results))["phi-3.5-mini"]["cost"]
    assert cost.value == pytest.approx(expected.cost)
    assert cost.text.startswith(fmt.money(expected.cost))
    assert any("30 W" in note and "0.5 per kWh" in note for note in selection_table(results).notes)


def test_quality_sources_are_shown_per_model_and_per_cell(results: Results) -> None:
    rows = _rows(selection_table(results))
    # checks: mean(1, .5, 1, .75) = 81%; judge: mean(4, 3.5, 4, 3) = 3.6; one fresh annotation 4, one stale.
    assert rows["phi-3.5-mini"]["quality"].text == "checks 81% · judge 3.6/5 · manual 4.0/5 · 1 stale"
    assert rows["qwen2.5-0.5b"]["quality"].text == "—"
    cell = _detail(detail_table(results), "phi-3.5-mini", "rag_principle")
    assert cell["quality"].text == "checks 100% · judge 4.0/5 · manual 4.0/5"
    assert cell["quality"].csv == "checks=1.000;judge=4.00;manual=4.00"


@pytest.mark.parametrize(
    "quality",
    [
        {"checks_score": "high", "judge": "4", "annotation": 5},
        {"checks_score": True, "judge": {"mean": 9.0}, "annotation": {"score": 0}},
        {"checks_score": float("nan"), "judge": {"mean": None}, "annotation": {"stale": True}},
        {},
    ],
)
def test_malformed_quality_data_shows_a_dash_not_an_error(results: Results, quality: dict[str, Any]) -> None:
    for cell in results["cells"]:
        if cell["output"] is not None:
            cell["output"]["quality"] = quality  # type: ignore[typeddict-item]
    assert quality_score(results["cells"]).empty
    assert _rows(selection_table(results))["phi-3.5-mini"]["quality"].text == "—"


def test_detail_best_marks_are_per_prompt_among_measured_cells(results: Results) -> None:
    table = detail_table(results)
    assert _detail(table, "qwen2.5-0.5b", "rag_principle")["e2e_p50"].best
    assert not _detail(table, "phi-3.5-mini", "rag_principle")["e2e_p50"].best
    # Only phi measured summarize_notes (qwen errored): one value competes, so no mark.
    assert not _detail(table, "phi-3.5-mini", "summarize_notes")["e2e_p50"].best
    errored = _detail(table, "qwen2.5-0.5b", "summarize_notes")
    assert errored["status"].text == "error"
    assert errored["e2e_p50"].text == "n/a"
    assert [c.key for c in DETAIL_COLUMNS if c.better] == ["e2e_p50", "ttft_p50", "decode_tps"]


def test_missing_stored_summary_is_computed_from_the_rounds(results: Results) -> None:
    cell = results["cells"][0]
    stored = cell["summary"].pop("e2e_s")
    row = _detail(detail_table(results), cell["model"], cell["prompt"])
    assert row["e2e_p50"].value == pytest.approx(stored["median"])


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "n/a"),
        (0.00423, "4.23 ms"),
        (0.2282, "228.2 ms"),
        (0.9996, "999.6 ms"),
        (4.641, "4.64 s"),
        (123.45, "123.5 s"),
    ],
)
def test_durations_read_well(seconds: float | None, text: str) -> None:
    assert fmt.duration(seconds) == text


def test_sizes_rates_and_money_read_well() -> None:
    assert fmt.mebibytes(2934 * fmt.MIB) == "2,934 MiB"
    assert fmt.mebibytes(int(12.5 * fmt.MIB)) == "12.5 MiB"
    assert fmt.mebibytes(835 * fmt.MIB, signed=True) == "+835 MiB"
    assert fmt.mebibytes(None) == "n/a"
    assert fmt.rate(12.345) == "12.3"
    assert fmt.money(0.02751) == "0.0275"
    assert fmt.money(12.3456) == "12.35"
    assert fmt.csv_ms(0.2282) == "228.200"
