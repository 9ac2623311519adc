"""The whole session with a fake runtime: tests' requests, finish, the post-run steps
and the summary they give (judge, report, baseline, gate)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_runtime import FakeChat, FakeRuntime, generation, settings

from pytest_foundry.errors import ConfigError, ModelError, RequestTimeout
from pytest_foundry.model_pool import PROBE_PROMPT
from pytest_foundry.post_run import StepOutcome, run_step
from pytest_foundry.run_summary import RunSummary, summary_lines
from pytest_foundry.session import FoundrySession

JUDGE_ANSWER = json.dumps({"scores": {"relevance": 4, "correctness": 5, "fluency": 3}, "rationale": "fine"})


def model_folder(tmp_path: Path, name: str) -> str:
    """A folder that passes for a model folder (the fake runtime loads anything)."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / "genai_config.json").write_text("{}", encoding="utf-8")
    return str(folder)


def make_session(tmp_path: Path, chat: FakeChat | None = None, runtime: FakeRuntime | None = None, **options):
    runtime = runtime or FakeRuntime()
    options.setdefault("models", "m1,m2")
    options.setdefault("rounds", "3")
    session = FoundrySession(
        settings(tmp_path, **options), lambda s: runtime, tmp_path, client_factory=chat or FakeChat()
    )
    return session, runtime


def run_cells(session: FoundrySession, models=("m1", "m2"), rounds: int = 3) -> None:
    prompt = session.prompts[0]
    for model in models:
        calls = [(prompt, session.generate(model, prompt)) for _ in range(rounds)]
        session.recorder.record_latency(model, calls, warmup=0)
        session.pool.release(model)


def test_a_session_that_ran_no_foundry_test_summarises_nothing(tmp_path):
    session, runtime = make_session(tmp_path)
    summary = session.finish()
    assert summary.results is None
    assert summary_lines(summary) == []
    session.close()
    assert runtime.started == 0


def test_finish_builds_the_record_and_counts_loads_per_model(tmp_path):
    session, _runtime = make_session(tmp_path)
    run_cells(session)
    summary = session.finish()
    assert summary.results is not None
    assert [c["model"] for c in summary.results["cells"]] == ["m1", "m2"]
    assert summary.load_counts == (("m1", 1), ("m2", 1))
    lines = summary_lines(summary)
    assert "model loads: 2 (m1 x1, m2 x1)" in lines
    assert not summary.failed


def test_a_failed_request_is_recorded_on_its_cell_only(tmp_path):
    chat = FakeChat(script={"m1-generic-cpu:1": [generation("m1"), RequestTimeout("m1: no answer in 5 s")]})
    session, _ = make_session(tmp_path, chat=chat, **{"model-warmup": "0"})
    prompt = session.prompts[1]
    with pytest.raises(RequestTimeout):
        session.generate("m1", prompt)
    chat.script["m2-generic-cpu:1"] = [ModelError("m2: HTTP 500")]
    with pytest.raises(ModelError):
        session.generate("m2", prompt)
    results = session.finish().results
    assert results is not None
    cells = {(c["model"], c["prompt"]): (c["status"], c["reason"]) for c in results["cells"]}
    assert cells[("m1", prompt.id)] == ("timeout", "m1: no answer in 5 s")
    # The breaker: m1's prompts that never ran say why, as errors.
    assert (
        cells[("m1", session.prompts[0].id)][1] == "m1: no answer in 5 s (later requests to m1 fail at once)"
    )
    # m2 loaded, but its cold request failed: the model is in error, not load-failed.
    assert cells[("m2", prompt.id)] == ("error", "m2: cold request after load failed: m2: HTTP 500")
    models = {m["slug"]: m["status"] for m in results["models"]}
    assert models == {"m1": "error", "m2": "error"}  # m1 tripped the breaker


def test_the_report_and_baseline_steps_write_their_files(tmp_path):
    report = tmp_path / "report"
    session, _ = make_session(
        tmp_path, report=str(report), save="main", **{"baseline-dir": str(tmp_path / "b")}
    )
    run_cells(session)
    summary = session.finish()
    assert [step.step for step in summary.steps] == ["report", "baseline"]
    assert all(step.error is None for step in summary.steps)
    assert (report / "results.json").is_file()
    assert (tmp_path / "b" / "main" / "results.json").is_file()
    lines = summary_lines(summary)
    assert any(line.startswith("baseline 'main' saved: ") for line in lines)
    assert lines[-1].startswith("pytest-foundry report: ")


def test_a_report_folder_that_is_a_file_is_refused_before_any_model_loads(tmp_path):
    blocker = tmp_path / "report"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ConfigError, match=r"--foundry-report: .*report is a file, not a folder"):
        make_session(tmp_path, report=str(blocker))


def test_a_save_name_that_escapes_the_baseline_folder_is_refused_before_the_run(tmp_path):
    with pytest.raises(ConfigError, match=r"baseline name '\.\./evil'"):
        make_session(tmp_path, save="../evil")


def test_a_report_folder_that_breaks_during_the_run_is_one_error_line(tmp_path):
    report = tmp_path / "report"
    session, _ = make_session(tmp_path, report=str(report))
    run_cells(session)
    report.write_text("a file where the folder should be")  # appeared while the tests ran
    summary = session.finish()
    (step,) = summary.steps
    assert step.step == "report"
    assert step.error is not None
    assert "\n" not in step.error
    assert summary.failed  # the run's exit status is not 0
    assert any(line.startswith("error: report not written: ") for line in summary_lines(summary))


def test_the_gate_step_compares_with_the_baseline_and_fails_the_run_on_a_regression(tmp_path):
    # Runs measured apart (no lockstep): wall-clock figures fail only where the spec says so.
    base_dir = str(tmp_path / "b")
    session, _ = make_session(tmp_path, save="main", **{"baseline-dir": base_dir})
    run_cells(session, rounds=8)  # the gate needs 5 samples a side for a CI
    session.finish()
    slow = FakeChat()
    for model in ("m1", "m2"):
        slow.script[f"{model}-generic-cpu:1"] = [generation(model, ttft_ms=30.0, gap_ms=6.0)]
    head, _ = make_session(
        tmp_path,
        chat=slow,
        compare="main",
        gate="ttft_p50:+10%:fail",
        **{"baseline-dir": base_dir, "compare-force": True},
    )
    run_cells(head, rounds=8)
    summary = head.finish()
    (gate,) = summary.steps
    assert gate.gate_report is not None
    assert gate.gate_report.failed
    assert summary.failed
    assert any("regressed" in line for line in summary_lines(summary))


def test_the_judge_scores_outputs_through_the_pool_and_keeps_its_figures_apart(tmp_path):
    chat = FakeChat()
    chat.script["judge-model-generic-cpu:1"] = [generation("judge", text=JUDGE_ANSWER)]
    session, runtime = make_session(
        tmp_path, chat=chat, judge=model_folder(tmp_path, "judge-model"), models="m1"
    )
    prompt = session.prompts[0]
    session.recorder.record_output("m1", prompt, session.generate("m1", prompt))
    session.pool.release("m1")
    summary = session.finish()
    assert [step.step for step in summary.steps] == ["judge"]
    assert summary.steps[0].error is None
    assert summary.results is not None
    judged = summary.results["cells"][0]["output"]["quality"]["judge"]
    assert judged["model"] == "judge-model-generic-cpu:1"
    assert runtime.loads == ["m1", "judge-model"]
    assert runtime.unloads == ["m1", "judge-model"]
    # The judge is not a model under test.
    assert [m["slug"] for m in summary.results["models"]] == ["m1"]


def test_a_judge_that_cannot_load_is_one_error_and_the_record_is_still_built(tmp_path):
    """(A judge that does not resolve at all is refused before the run: test below.)"""
    runtime = FakeRuntime(broken={"nope": "nope: not in the catalog"})
    judge = model_folder(tmp_path, "nope")
    session, _ = make_session(tmp_path, runtime=runtime, judge=judge, models="m1")
    prompt = session.prompts[0]
    session.recorder.record_output("m1", prompt, session.generate("m1", prompt))
    summary = session.finish()
    assert summary.steps[0].error == f"judge {judge}: nope: not in the catalog"
    assert summary.results is not None


def test_run_step_turns_any_exception_into_one_line():
    def broken(step) -> None:
        raise ValueError("bad\nvalue")

    outcome = run_step("report", broken)
    assert outcome == StepOutcome(step="report", error="ValueError: bad value", fails_run=True)
    assert run_step("gate", broken).fails_run  # a gate that could not compare never passes
    assert not run_step("report", lambda step: None).fails_run


def test_summary_lines_name_each_failed_step():
    summary = RunSummary(
        results=None,
        steps=(StepOutcome(step="baseline", error="disk full"),),
        errors=("results not built: x",),
    )
    assert summary_lines(summary) == ["error: results not built: x", "error: baseline not saved: disk full"]


def test_a_judge_that_resolves_nowhere_is_refused_before_the_run(tmp_path):
    with pytest.raises(
        ConfigError, match=r"^--foundry-judge: .*missing-judge is not an ONNX Runtime GenAI model folder"
    ):
        make_session(tmp_path, judge=str(tmp_path / "missing-judge"))


def test_a_lockstep_file_whose_folder_cannot_be_made_is_refused_before_the_run(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"^--foundry-lockstep: .*not-a-folder is a file, not a folder"):
        make_session(tmp_path, lockstep=str(blocker / "pair.lock"))


def test_a_baseline_that_cannot_be_saved_is_one_error_line_and_fails_the_run(tmp_path):
    blocker = tmp_path / "baselines"
    blocker.write_text("a file where the baseline folder should be")
    session, _ = make_session(tmp_path, save="main", **{"baseline-dir": str(blocker)})
    run_cells(session)
    summary = session.finish()
    (step,) = summary.steps
    assert step.step == "baseline"
    assert step.error is not None
    assert summary.failed
    assert any(line.startswith("error: baseline not saved: ") for line in summary_lines(summary))


def test_the_cold_and_warm_up_requests_send_the_probe_not_the_first_prompt(tmp_path):
    # A first prompt too long for a model must fail only its own cells.
    chat = FakeChat()
    session, _ = make_session(tmp_path, chat=chat, **{"model-warmup": "1"})
    session.generate("m1", session.prompts[1])
    assert chat.sent[:2] == [PROBE_PROMPT.messages()] * 2
    assert chat.sent[2] == session.prompts[1].messages()


def test_cold_starts_reach_the_record_as_medians_with_every_sample(tmp_path):
    chat = FakeChat()
    session, runtime = make_session(
        tmp_path, chat=chat, runtime=FakeRuntime(isolated=True), **{"cold-starts": "2", "models": "m1"}
    )
    run_cells(session, models=("m1",))
    results = session.finish().results
    assert results is not None
    (model,) = results["models"]
    assert runtime.loads == ["m1", "m1"]
    fields = {"load_s", "cold_ttft_s", "rss_after_load_bytes"}
    assert [set(start) for start in model["cold_starts"]] == [fields] * 2
    assert model["load_s"] == pytest.approx(0.25)
