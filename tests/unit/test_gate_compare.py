"""compare_results beyond the statistics: fingerprints, missing cells, quality, snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from gate_factory import PACKAGES, model, output, synthetic_run

from pytest_foundry.errors import BaselineError
from pytest_foundry.gate.compare import SHARED_MEMORY_NOTE, GateReport, GateRow, MissingItem, compare_results
from pytest_foundry.gate.fingerprints import APART_NOTE
from pytest_foundry.gate.policy import parse_gate_spec


def rows_of(report: GateReport, metric: str, prompt: str | None = None) -> list[GateRow]:
    return [row for row in report.rows if row.metric == metric and row.prompt == prompt]


class TestFingerprints:
    def test_a_different_cpu_is_refused_naming_both(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        head["fingerprint"]["cpu"] = "Other CPU"

        with pytest.raises(BaselineError) as caught:
            compare_results(base, head)

        message = str(caught.value)
        assert "different CPU ('Synthetic CPU @ 3.0GHz' in the baseline, 'Other CPU' now)" in message
        assert "force" in message
        assert "\n" not in message

    def test_runtime_versions_model_variant_and_files_are_named(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        head["fingerprint"]["packages"] = {**PACKAGES, "onnxruntime": "1.23.0"}
        head["models"][0]["model_id"] = "tiny:2"
        head["models"][0]["files_sha256"] = "cd" * 32
        head["models"][0]["execution_provider"] = "CUDAExecutionProvider"

        with pytest.raises(BaselineError) as caught:
            compare_results(base, head)

        message = str(caught.value)
        assert "onnxruntime (1.22.0 in the baseline, 1.23.0 now)" in message
        assert "model variant of tiny (tiny:1 in the baseline, tiny:2 now)" in message
        assert "model files of tiny (sha256 abababababab in the baseline, cdcdcdcdcdcd now)" in message
        assert (
            "execution provider of tiny (CPUExecutionProvider in the baseline, CUDAExecutionProvider now)"
            in message
        )

    def test_a_model_measured_on_another_device_is_refused(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        base["models"][0]["device"] = "CPU"
        head["models"][0]["device"] = "GPU"

        with pytest.raises(BaselineError, match=r"device of tiny \(CPU in the baseline, GPU now\)"):
            compare_results(base, head)

    def test_force_compares_and_records_a_warning(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        head["fingerprint"]["cpu"] = "Other CPU"

        report = compare_results(base, head, force=True)

        assert any(w.startswith("compared across different CPU") for w in report.warnings)
        assert report.rows

    def test_unknown_model_hashes_do_not_block(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        head["models"][0]["files_sha256"] = None
        assert compare_results(base, head).warnings == []

    def test_other_differences_are_warnings_only(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        head["run"]["max_tokens"] = 256
        head["fingerprint"]["python"] = "3.12.1"
        warnings = compare_results(base, head).warnings
        assert "runs differ in max_tokens (64 in the baseline, 256 now)" in warnings
        assert "runs differ in Python (3.11.7 in the baseline, 3.12.1 now)" in warnings

    @staticmethod
    def lockstep(partnered: int, solo: int, note: str | None = None) -> dict[str, Any]:
        return {"seat": 0, "partnered_turns": partnered, "solo_turns": solo, "waited_s": 1.0, "note": note}

    def test_runs_measured_in_lockstep_all_along_need_no_warning(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        base["run"]["lockstep"], head["run"]["lockstep"] = self.lockstep(40, 0), self.lockstep(40, 0)
        assert compare_results(base, head).warnings == []

    def test_turns_taken_alone_or_one_sided_lockstep_are_warnings(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        base["run"]["lockstep"] = self.lockstep(30, 10, "no partner joined within 120 s")
        head["run"]["lockstep"] = self.lockstep(40, 0)
        assert compare_results(base, head).warnings == [
            "the baseline run took 10 of 40 turns without its lockstep partner (no partner joined "
            "within 120 s): drift between the runs is cancelled only for the others"
        ]
        del base["run"]["lockstep"]
        assert compare_results(base, head).warnings == [
            "only the head run was measured in lockstep: drift between the runs is not cancelled",
            APART_NOTE,
        ]


class TestRunsMeasuredApart:
    """Runs not measured in lockstep: wall-clock figures warn, CPU time per token fails."""

    WALL = ("ttft_p50", "ttft_p95", "tpot_median", "decode_tps", "e2e_p50", "e2e_p95")

    def test_a_wall_clock_slowdown_only_warns_and_says_why(self) -> None:
        base = synthetic_run(1, lockstep=False, cpu_per_token_s=0.004)
        head = synthetic_run(2, lockstep=False, cpu_per_token_s=0.004, slowdown=1.3)
        report = compare_results(base, head)
        assert not report.failed
        assert report.outcome == "warn"
        regressed = [row for row in report.rows if row.prompt is None and row.verdict == "regressed"]
        assert {row.metric: row.tier for row in regressed} == dict.fromkeys(self.WALL, "warn")
        assert APART_NOTE in report.warnings

    def test_cpu_time_per_token_fails_a_compute_slowdown(self) -> None:
        base = synthetic_run(1, lockstep=False, cpu_per_token_s=0.004)
        head = synthetic_run(2, lockstep=False, cpu_per_token_s=0.004, cpu_slowdown=1.3, slowdown=1.3)
        report = compare_results(base, head)
        assert report.failed
        failing = {row.metric for row in report.rows if row.tier == "fail" and row.verdict == "regressed"}
        assert failing == {"cpu_per_token"}

    def test_in_lockstep_cpu_time_only_warns_and_wall_clock_fails(self) -> None:
        base = synthetic_run(1, cpu_per_token_s=0.004)
        head = synthetic_run(2, cpu_per_token_s=0.004, cpu_slowdown=1.15, slowdown=1.15)
        report = compare_results(base, head)
        failing = {row.metric for row in report.rows if row.tier == "fail" and row.prompt is None}
        assert "tpot_median" in failing
        assert "cpu_per_token" not in failing
        assert APART_NOTE not in report.warnings

    def test_a_rule_the_spec_sets_applies_as_written(self) -> None:
        base = synthetic_run(1, lockstep=False)
        head = synthetic_run(2, lockstep=False, slowdown=1.3)
        assert compare_results(base, head, parse_gate_spec("tpot_median:+10%:fail")).failed


class TestMissing:
    def test_models_and_prompts_on_one_side_only(self) -> None:
        base = synthetic_run(1, models=("tiny", "gone"), prompts=("hello", "old"))
        head = synthetic_run(2, models=("tiny", "new"), prompts=("hello", "fresh"))

        report = compare_results(base, head)

        assert MissingItem("gone", None, "head", "model not in the head run") in report.missing
        assert MissingItem("new", None, "base", "model not in the baseline run") in report.missing
        assert MissingItem("tiny", "old", "head", "prompt not in the head run") in report.missing
        assert MissingItem("tiny", "fresh", "base", "prompt not in the baseline run") in report.missing
        assert {row.prompt for row in report.rows} == {"hello", None}
        assert not report.failed

    def test_cells_and_models_that_did_not_run(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        head["cells"][0]["status"] = "timeout"
        head["cells"][0]["reason"] = "ran past 60 s"
        base_failed = synthetic_run(1, models=("tiny", "broken"))
        head_failed = synthetic_run(2, models=("tiny", "broken"))
        head_failed["models"][1] = model("broken", status="load-failed")

        report = compare_results(base, head)
        failed = compare_results(base_failed, head_failed)

        assert MissingItem("tiny", "hello", "head", "status timeout: ran past 60 s") in report.missing
        assert not rows_of(report, "ttft_p50", "hello")
        assert rows_of(report, "ttft_p50", "story")
        assert MissingItem("broken", None, "head", "status load-failed: failed in test") in failed.missing
        assert not [row for row in failed.rows if row.model == "broken"]

    def test_a_spec_naming_an_absent_model_is_a_warning(self) -> None:
        report = compare_results(
            synthetic_run(1), synthetic_run(2), parse_gate_spec("phi/ttft_p95:+20%:fail")
        )
        assert "the gate spec names model 'phi', which neither run has" in report.warnings


class TestSingleValues:
    def test_memory_growth_fails_without_a_ci(self) -> None:
        report = compare_results(synthetic_run(1, peak_mib=800), synthetic_run(2, peak_mib=960))

        (memory,) = rows_of(report, "peak_memory")
        assert (memory.verdict, memory.tier) == ("regressed", "fail")
        assert memory.ratio == pytest.approx(1.2)
        assert (memory.ci_low, memory.ci_high) == (None, None)
        assert memory.note == "no CI (1 sample)"
        assert report.failed

    def test_memory_of_a_shared_server_only_warns_and_says_why(self) -> None:
        # --foundry-endpoint: the server's heap holds what it served before this run.
        base, head = synthetic_run(1, peak_mib=800), synthetic_run(2, peak_mib=960)
        head["models"][0]["memory"]["scope"] = "server"
        report = compare_results(base, head)
        (memory,) = rows_of(report, "peak_memory")
        assert (memory.verdict, memory.tier) == ("regressed", "warn")
        assert not report.failed
        assert SHARED_MEMORY_NOTE.format(slug="tiny") in report.warnings
        assert compare_results(base, head, parse_gate_spec("peak_memory:+10%:fail")).failed

    def test_load_time_has_a_wide_default_threshold(self) -> None:
        slower = compare_results(synthetic_run(1, load_s=2.0), synthetic_run(2, load_s=2.4))
        much_slower = compare_results(synthetic_run(1, load_s=2.0), synthetic_run(2, load_s=2.6))
        assert rows_of(slower, "load_time")[0].verdict == "unchanged"
        assert rows_of(much_slower, "load_time")[0].tier == "fail"

    def test_a_value_missing_on_one_side_is_inconclusive(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        head["models"][0]["memory"] = None
        (memory,) = rows_of(compare_results(base, head), "peak_memory")
        assert memory.verdict == "inconclusive"
        assert memory.note == "no value in the head run"


class TestQuality:
    @staticmethod
    def scored(seed: int, checks: float, judge: float | None) -> Any:
        run = synthetic_run(seed)
        quality = {"checks": [], "checks_score": checks, "judge": None if judge is None else {"mean": judge}}
        for cell in run["cells"]:
            cell["output"] = output(f"answer to {cell['prompt']}", quality=quality)
        return run

    def test_a_lower_pass_rate_fails(self) -> None:
        report = compare_results(self.scored(1, 1.0, 2.0), self.scored(2, 0.8, 1.6))

        (cell,) = rows_of(report, "checks_pass_rate", "hello")
        assert (cell.verdict, cell.tier) == ("regressed", "fail")
        (judge,) = rows_of(report, "judge_mean", "hello")
        assert judge.verdict == "unchanged"  # -20 %, but 0.4 points is under the 0.5-point floor
        (model_row,) = rows_of(report, "checks_pass_rate")
        assert model_row.note == "mean over 2 prompts, no CI"
        assert report.failed

    def test_judge_drop_beyond_threshold_and_floor(self) -> None:
        report = compare_results(self.scored(1, 1.0, 4.5), self.scored(2, 1.0, 3.4))
        assert rows_of(report, "judge_mean", "hello")[0].tier == "fail"

    def test_quality_on_one_side_only_is_not_compared(self) -> None:
        report = compare_results(synthetic_run(1), self.scored(2, 0.5, None))
        assert not [row for row in report.rows if row.metric in ("checks_pass_rate", "judge_mean")]


class TestSnapshots:
    def test_changed_output_comes_with_a_diff(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        base["cells"][0]["output"] = output("Kuala Lumpur is the capital.\nIt is in Malaysia.")
        head["cells"][0]["output"] = output("Putrajaya is the capital.\nIt is in Malaysia.")

        report = compare_results(base, head)

        (change,) = report.snapshot_changes
        assert (change.model, change.prompt, change.tier) == ("tiny", "hello", "warn")
        assert "-Kuala Lumpur is the capital." in change.diff
        assert "+Putrajaya is the capital." in change.diff
        assert " It is in Malaysia." in change.diff
        assert report.warned
        assert not report.failed

    def test_a_snapshot_assertion_change_counts_too(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        head["cells"][1]["output"]["snapshot"] = "changed"
        head["cells"][1]["output"]["snapshot_diff"] = "-old\n+new"

        (change,) = compare_results(base, head).snapshot_changes
        assert change.prompt == "story"
        assert change.reason == "output differs from its stored snapshot"
        assert change.diff == "-old\n+new"

    def test_snapshots_can_fail_the_gate_or_be_ignored(self) -> None:
        base, head = synthetic_run(1), synthetic_run(2)
        head["cells"][0]["output"] = output("something else")

        assert compare_results(base, head, parse_gate_spec("snapshots:fail")).failed
        ignored = compare_results(base, head, parse_gate_spec("snapshots:off"))
        assert ignored.snapshot_changes[0].tier is None
        assert not ignored.warned

    def test_unchanged_outputs_are_not_listed(self) -> None:
        assert compare_results(synthetic_run(1), synthetic_run(2)).snapshot_changes == []


class TestNothingCompared:
    def test_a_baseline_sharing_no_measured_cell_is_no_pass(self) -> None:
        base, head = synthetic_run(1, prompts=("hello",)), synthetic_run(2, prompts=("story",))
        report = compare_results(base, head)
        assert report.nothing_compared
        assert report.outcome == "empty"
        assert report.failed
        assert report.exit_code == 1

    def test_it_passes_only_when_allowed_and_says_so(self) -> None:
        from pytest_foundry.gate.render import terminal_lines

        base, head = synthetic_run(1, models=("a",)), synthetic_run(2, models=("b",))
        report = compare_results(base, head, allow_empty=True)
        assert not report.failed
        assert "NOTHING COMPARED (allowed)" in terminal_lines(report)[0]

    def test_shared_cells_are_counted(self) -> None:
        report = compare_results(synthetic_run(1), synthetic_run(2))
        assert report.paired_cells == 2
        assert not report.nothing_compared
