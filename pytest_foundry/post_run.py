"""The steps after the tests: judge, report, baseline, gate.  Each returns a StepOutcome.

Pure: no pytest.  A step never raises: whatever breaks becomes the outcome's one-line
error, so one failing step cannot hide the others or the run's own verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pytest_foundry.errors import FoundryError, ModelError, one_line
from pytest_foundry.model_pool import ModelPool
from pytest_foundry.recorder import Recorder
from pytest_foundry.results import Results
from pytest_foundry.run_inputs import RunInputs

if TYPE_CHECKING:
    from pytest_foundry.gate.compare import GateReport

StepName = Literal["judge", "report", "baseline", "gate"]
# How a failed step is told on the terminal ("error: <label>: <reason>").
STEP_LABELS: dict[StepName, str] = {
    "judge": "judge",
    "report": "report not written",
    "baseline": "baseline not saved",
    "gate": "gate",
}
# The judge's key in the model pool: apart from the models under test, even when the
# same model judges itself.
JUDGE_KEY = "<judge>"  # "<" never appears in a slug
# A judge answers with a small JSON object; this leaves room for the rationale.
JUDGE_MAX_TOKENS = 256


@dataclass(frozen=True)
class StepOutcome:
    step: StepName
    error: str | None = None  # one line, when the step failed
    written: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()
    # The gate's verdict; a refused comparison (error) fails the run as well.
    gate_report: GateReport | None = None
    fails_run: bool = False

    @property
    def label(self) -> str:
        return STEP_LABELS[self.step]


@dataclass
class _Step:
    """What a step body fills in while it runs."""

    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gate_report: GateReport | None = None


def run_step(name: StepName, body: Callable[[_Step], None]) -> StepOutcome:
    step = _Step()
    error: str | None = None
    try:
        body(step)
    except FoundryError as exc:
        error = one_line(str(exc))
    except Exception as exc:
        # Whatever broke, the run's verdict stands: say so in one line.
        error = f"{type(exc).__name__}: {one_line(str(exc))}"
    report = step.gate_report
    return StepOutcome(
        step=name,
        error=error,
        written=tuple(step.written),
        notes=tuple(step.notes),
        gate_report=report,
        # A step the user asked for that failed (a report or baseline not written, a
        # judge that could not run, a gate that could not compare) fails the run, and
        # so does a gate whose verdict is a failure.
        fails_run=error is not None or (report is not None and report.failed),
    )


def judge_outputs(inputs: RunInputs, recorder: Recorder, pool: ModelPool) -> StepOutcome:
    """Score every output against its prompt's rubric with the judge model, after the
    tests, so the judge's latency never mixes with the benchmarked figures.  The judge
    loads through the pool, like every model."""
    from pytest_foundry.quality.judge import (
        DEFAULT_RUBRIC,
        JudgeError,
        JudgeVerdict,
        aggregate_judgements,
        build_judge_messages,
        parse_judge_response,
    )

    request = inputs.judge
    assert request is not None
    settings = inputs.settings

    def body(step: _Step) -> None:
        with ExitStack() as stack:
            try:
                judge = stack.enter_context(pool.borrowed(request, JUDGE_KEY))
            except FoundryError as exc:
                raise ModelError(f"judge {settings.judge}: {one_line(str(exc))}") from None
            assert judge.loaded is not None
            for cell in recorder.outputs():
                prompt = inputs.prompt(cell.prompt)
                if prompt is None or cell.output is None:
                    continue
                rubric = list(prompt.rubric) or list(DEFAULT_RUBRIC)
                messages = build_judge_messages(prompt.prompt, cell.output["text"], rubric)
                verdicts: list[JudgeVerdict | JudgeError] = []
                for repeat in range(settings.judge_repeats):
                    try:
                        answer = pool.request(judge, messages, JUDGE_MAX_TOKENS, settings.seed + repeat, 0.0)
                    except FoundryError as exc:
                        verdicts.append(JudgeError(one_line(str(exc))))
                        continue
                    verdicts.append(parse_judge_response(answer.text, rubric))
                quality = cell.output.setdefault("quality", {})
                quality["judge"] = {"model": judge.loaded.model_id, **aggregate_judgements(verdicts)}

    return run_step("judge", body)


def write_report(inputs: RunInputs, results: Results) -> StepOutcome:
    """report.md / .html / .csv / results.json, and the annotations stub for new outputs."""
    from pytest_foundry.quality.annotations import stub_outputs, write_stub
    from pytest_foundry.report.writer import write_report as write_files

    settings = inputs.settings
    report_dir = settings.report_dir
    assert report_dir is not None

    def body(step: _Step) -> None:
        step.written.extend(write_files(results, report_dir))
        outputs = stub_outputs(results["cells"])
        if outputs:
            # With --foundry-annotations the file itself gains blanks for new outputs (its
            # scores kept), ready for a reviewer to fill in and commit; otherwise a stub
            # goes into the report folder to start from.
            stub = settings.annotations or report_dir / "annotations.json"
            unscored = write_stub(stub, outputs, existing=inputs.annotations)
            if unscored:
                step.notes.append(f"{unscored} output(s) await a 1-5 score in {stub}")

    return run_step("report", body)


def save_baseline(inputs: RunInputs, results: Results) -> StepOutcome:
    from pytest_foundry.gate.baselines import save_baseline as save

    name = inputs.settings.save
    assert name is not None

    def body(step: _Step) -> None:
        path = save(results, name, inputs.settings.baseline_dir)
        step.notes.append(f"baseline {name!r} saved: {path}")

    return run_step("baseline", body)


def gate(inputs: RunInputs, results: Results) -> StepOutcome:
    """Compare the run with the baseline; gate.md and benchmark JSON go into the report."""
    from pytest_foundry.gate.apply import apply_gate

    baseline = inputs.baseline
    assert baseline is not None
    report_dir = inputs.settings.report_dir

    def body(step: _Step) -> None:
        outcome = apply_gate(
            baseline,
            results,
            inputs.gate_policy,
            force=inputs.settings.compare_force,
            allow_empty=inputs.settings.compare_allow_empty,
            markdown=report_dir / "gate.md" if report_dir is not None else None,
            benchmark_dir=report_dir,
        )
        step.gate_report = outcome.report
        step.written.extend(outcome.written)

    return run_step("gate", body)
