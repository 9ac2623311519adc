"""FoundrySession: the state of one pytest run (settings, runtime, models, records).

No pytest imports: the plugin stores one instance under a StashKey and delegates to it.
The session loads each model once, keeps it warm while its tests run, measures every
request, and builds the results.json record at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai

from pytest_foundry.errors import FoundryError, ModelError, ModelUnavailable, RequestTimeout, one_line
from pytest_foundry.lockstep import Lockstep
from pytest_foundry.matrix import default_model_names, model_requests
from pytest_foundry.metrics import RequestMetrics, summarize_requests
from pytest_foundry.model_config import ModelsFile, load_models_file
from pytest_foundry.options import Settings
from pytest_foundry.prompts import PromptSpec, load_prompts
from pytest_foundry.quality.annotations import output_sha256
from pytest_foundry.results import (
    CellRecord,
    LockstepRecord,
    ModelRecord,
    OutputRecord,
    Results,
    RunRecord,
)
from pytest_foundry.runtime.base import LoadedModel, ModelRequest, ProgressCallback, Runtime
from pytest_foundry.runtime.streaming import Generation, make_client, stream_chat

if TYPE_CHECKING:
    from pytest_foundry.gate.compare import GateReport
    from pytest_foundry.quality.annotations import Annotations


@dataclass
class ModelState:
    """One requested model: loaded handle or failure, and what loading it cost."""

    request: ModelRequest
    loaded: LoadedModel | None = None
    client: openai.OpenAI | None = None
    error: str | None = None
    loads: int = 0
    cold_ttft_s: float | None = None
    rss_before_load: int | None = None
    peak_rss: int | None = None
    memory_pid: int | None = None
    released: bool = False
    unavailable: bool = False  # error is a ModelUnavailable: its tests skip


@dataclass
class CellState:
    """One model x prompt: its requests and output, as the tests recorded them."""

    model: str
    prompt: str
    max_tokens: int
    seed: int
    warmup: list[RequestMetrics] = field(default_factory=list)
    samples: list[RequestMetrics] = field(default_factory=list)
    output: OutputRecord | None = None
    status: str | None = None  # set for failures; otherwise derived
    reason: str | None = None


# A judge answers with a small JSON object; this leaves room for the rationale.
JUDGE_MAX_TOKENS = 256


class FoundrySession:
    """Per-run state.  Created at configure time; models start lazily, on first use."""

    def __init__(
        self,
        settings: Settings,
        runtime_factory: Callable[[Settings], Runtime],
        base_dir: Path,
    ) -> None:
        self.settings = settings
        self._runtime_factory = runtime_factory
        self.runtime: Runtime | None = None
        self.models_file: ModelsFile | None = (
            load_models_file(settings.models_file) if settings.models_file else None
        )
        self.prompts: list[PromptSpec] = load_prompts(settings.prompts_file)
        names = settings.models or default_model_names(self.models_file)
        self.requests: list[ModelRequest] = model_requests(
            names, self.models_file, settings.models_base_dir if settings.models else base_dir
        )
        self.models: dict[str, ModelState] = {r.slug: ModelState(r) for r in self.requests}
        self.base_dir = base_dir
        from pytest_foundry.gate.policy import parse_gate_spec

        self.gate_policy = parse_gate_spec(settings.gate)
        self.baseline: Results | None = None
        if settings.compare:
            from pytest_foundry.gate.baselines import load_baseline, resolve_baseline

            self.baseline = load_baseline(resolve_baseline(settings.compare, settings.baseline_dir))
        self.annotations: Annotations | None = None
        if settings.annotations:
            from pytest_foundry.quality.annotations import load_annotations

            self.annotations = load_annotations(settings.annotations, missing_ok=True)
        self.gate_report: GateReport | None = None
        self.lockstep: Lockstep | None = Lockstep(settings.lockstep) if settings.lockstep else None
        self.cells: dict[tuple[str, str], CellState] = {}
        self.created_at = datetime.now(UTC)
        self.progress: ProgressCallback | None = None
        self._snapshot_extension: type[Any] | None = None
        self.results: Results | None = None
        self.written: list[Path] = []
        self.finish_errors: list[str] = []
        self.notes: list[str] = []
        self.failed_gate = False

    # -- runtime ---------------------------------------------------------------------
    @property
    def backend(self) -> str:
        return "endpoint" if self.settings.endpoint else "foundry-local"

    def ensure_runtime(self) -> Runtime:
        if self.runtime is None:
            runtime = self._runtime_factory(self.settings)
            runtime.start()
            self.runtime = runtime
        return self.runtime

    def close(self) -> None:
        """Unload every model and stop the runtime (idempotent, never raises)."""
        if self.lockstep is not None:
            self.lockstep.close()
        runtime, self.runtime = self.runtime, None
        if runtime is None:
            return
        for state in self.models.values():
            if state.loaded is not None and not state.released:
                runtime.unload(state.loaded)
                state.released = True
            if state.client is not None:
                state.client.close()
                state.client = None
        runtime.close()

    # -- models ----------------------------------------------------------------------
    @property
    def load_count(self) -> int:
        return sum(state.loads for state in self.models.values())

    def acquire_model(self, slug: str) -> ModelState:
        """Load and warm a model once; later calls return the same state.

        Raises ModelError (one line) when it cannot be resolved, loaded or answer.
        """
        state = self.models[slug]
        if state.error is not None:
            raise (ModelUnavailable if state.unavailable else ModelError)(state.error)
        if state.loaded is not None and not state.released:
            return state
        try:
            with self.turn():  # a load is heavy: never while the lockstep partner measures
                runtime = self.ensure_runtime()
                from pytest_foundry.memory import current_rss

                # RSS before load: the baseline the model's memory delta is measured from.
                state.memory_pid = runtime.memory_pid()
                state.rss_before_load = current_rss(state.memory_pid) if state.memory_pid else None
                state.loaded = runtime.load(state.request, self.progress)
            state.released = False
            state.loads += 1
            state.client = make_client(state.loaded.base_url, self.settings.timeout_s)
            self._warm(state)
        except FoundryError as exc:
            state.error = one_line(str(exc))
            state.unavailable = isinstance(exc, ModelUnavailable)
            raise (ModelUnavailable if state.unavailable else ModelError)(state.error) from None
        return state

    def _warm(self, state: ModelState) -> None:
        """The first request after load gives the cold TTFT; then untimed full-length
        requests warm caches so the measured rounds see a steady state."""
        prompt = self.prompts[0]
        for index in range(1 + self.settings.warmup):
            generation = self._request(state, prompt.messages(), self.settings.max_tokens, self.settings.seed)
            if index == 0:
                state.cold_ttft_s = generation.metrics.ttft_s

    def release_model(self, slug: str) -> None:
        """Unload a model once its tests are done, so the next one has the memory."""
        state = self.models[slug]
        if state.loaded is not None and not state.released and self.runtime is not None:
            self.runtime.unload(state.loaded)
            state.released = True

    # -- requests --------------------------------------------------------------------
    def _request(
        self,
        state: ModelState,
        messages: list[dict[str, str]],
        max_tokens: int,
        seed: int,
        temperature: float | None = None,
    ) -> Generation:
        assert state.loaded is not None and state.client is not None
        from pytest_foundry.memory import RssSampler

        def request() -> Generation:
            assert state.loaded is not None and state.client is not None
            return stream_chat(
                state.client,
                state.loaded.model_id,
                messages,
                max_tokens=max_tokens,
                temperature=self.settings.temperature if temperature is None else temperature,
                seed=seed,
                timeout_s=self.settings.timeout_s,
            )

        if state.memory_pid is None:
            with self.turn():
                return request()  # no process to watch: memory stays "n/a"
        with self.turn(), RssSampler(state.memory_pid) as sampler:
            generation = request()
        if sampler.peak_bytes is not None:
            state.peak_rss = max(state.peak_rss or 0, sampler.peak_bytes)
        return generation

    def turn(self) -> AbstractContextManager[None]:
        """With --foundry-lockstep, wait for this run's turn; otherwise go straight on."""
        return self.lockstep.turn() if self.lockstep is not None else nullcontext()

    def cell(self, model: str, prompt: PromptSpec) -> CellState:
        key = (model, prompt.id)
        if key not in self.cells:
            self.cells[key] = CellState(
                model=model,
                prompt=prompt.id,
                max_tokens=prompt.max_tokens or self.settings.max_tokens,
                seed=self.settings.seed,
            )
        return self.cells[key]

    def generate(
        self,
        model: str,
        prompt: PromptSpec,
        *,
        max_tokens: int | None = None,
        seed: int | None = None,
        temperature: float | None = None,
    ) -> Generation:
        """One measured request for a model x prompt; failures are recorded on the cell
        and re-raised as one-line ModelError / RequestTimeout."""
        state = self.acquire_model(model)
        cell = self.cell(model, prompt)
        try:
            return self._request(
                state,
                prompt.messages(),
                max_tokens or cell.max_tokens,
                cell.seed if seed is None else seed,
                temperature,
            )
        except RequestTimeout as exc:
            cell.status, cell.reason = "timeout", one_line(str(exc))
            raise
        except ModelError as exc:
            cell.status, cell.reason = "error", one_line(str(exc))
            raise

    def adhoc_prompt(self, text: str) -> PromptSpec:
        """A PromptSpec for a prompt given as plain text in a test."""
        return PromptSpec(id="adhoc_" + output_sha256(text)[:10], prompt=text)

    def record_latency(
        self, model: str, calls: list[tuple[PromptSpec, Generation]], measured: int
    ) -> dict[str, Any]:
        """Record a latency test's calls: the last ``measured`` are the timed rounds,
        earlier ones pytest-benchmark's warm-up.  Returns benchmark ``extra_info``."""
        warmup = len(calls) - measured
        for index, (prompt, generation) in enumerate(calls):
            cell = self.cell(model, prompt)
            (cell.warmup if index < warmup else cell.samples).append(generation.metrics)
        if not calls:
            return {}
        prompt, last = calls[-1]
        cell = self.cell(model, prompt)
        info: dict[str, Any] = {
            "model_id": last.model_id,
            "model_variant": loaded.model_id if (loaded := self.models[model].loaded) else None,
            "prompt": prompt.id,
            "max_tokens": cell.max_tokens,
            "seed": cell.seed,
            "temperature": last.temperature,
            "rounds": len(cell.samples),
            "output_tokens": last.metrics.output_tokens,
            "tokens_estimated": last.metrics.tokens_estimated,
        }
        for name, summary in summarize_requests(cell.samples).items():
            if name == "gap_s":
                info["gap_p99_s"] = summary.p99
                continue
            info[f"{name.removesuffix('_s')}_median{'_s' if name.endswith('_s') else ''}"] = summary.median
            if name in ("ttft_s", "e2e_s"):
                info[f"{name.removesuffix('_s')}_p95_s"] = summary.p95
        return info

    def record_output(self, model: str, prompt: PromptSpec, generation: Generation) -> list[str]:
        """Record an output test's generation (the last one per prompt is the cell's
        output) with its deterministic checks and annotation; returns the failed checks."""
        from pytest_foundry.quality import evaluate_output

        cell = self.cell(model, prompt)
        previous = cell.output
        sha256 = output_sha256(generation.text)
        quality = evaluate_output(
            generation.text,
            prompt.checks,
            model=model,
            prompt=prompt.id,
            sha256=sha256,
            annotations=self.annotations,
        )
        cell.output = OutputRecord(
            text=generation.text,
            sha256=sha256,
            output_tokens=generation.metrics.output_tokens,
            finish_reason=generation.finish_reason,
            snapshot=previous["snapshot"] if previous else None,
            snapshot_diff=previous["snapshot_diff"] if previous else None,
            quality=quality,
        )
        return [
            f"{check['name']}: {check['detail']}" if check.get("detail") else str(check["name"])
            for check in quality.get("checks", [])
            if not check["passed"]
        ]

    @property
    def snapshot_extension(self) -> type[Any]:
        if self._snapshot_extension is None:
            from pytest_foundry.snapshots import make_extension

            self._snapshot_extension = make_extension(self.settings.snapshot_dir)
        return self._snapshot_extension

    def record_snapshot_results(self, model: str, prompt_id: str, executions: Iterable[Any]) -> None:
        """Note how each syrupy assertion of a model x prompt ended (for the gate)."""
        from pytest_foundry.snapshots import snapshot_outcome

        cell = self.cells.get((model, prompt_id))
        executions = list(executions)
        if executions:
            self.snapshot_extension.asserted_cases.add((model, prompt_id))
        for result in executions:
            status, diff = snapshot_outcome(
                result.created, result.updated, result.success, result.recalled_data, result.asserted_data
            )
            if cell is not None and cell.output is not None:
                cell.output["snapshot"] = status
                cell.output["snapshot_diff"] = diff

    # -- results ---------------------------------------------------------------------
    def _cell_status(self, cell: CellState) -> tuple[str, str | None]:
        model = self.models[cell.model]
        if model.error is not None:
            return ("skipped" if model.unavailable else "load-failed"), model.error
        if cell.status is not None:
            return cell.status, cell.reason
        finishes = [m.finish_reason for m in cell.samples] + (
            [cell.output["finish_reason"]] if cell.output else []
        )
        if "length" in finishes:
            return "truncated", f"output reached max_tokens={cell.max_tokens}"
        return "ok", None

    def build_results(self) -> Results:
        from pytest_foundry.fingerprint import git_state, machine_fingerprint
        from pytest_foundry.footprint import folder_footprint

        models: list[ModelRecord] = []
        for state in self.models.values():
            loaded, request = state.loaded, state.request
            path = loaded.path if loaded else request.path
            footprint = folder_footprint(path) if path is not None and path.is_dir() else None
            delta = (
                state.peak_rss - state.rss_before_load
                if state.peak_rss is not None and state.rss_before_load is not None
                else None
            )
            status = (
                ("skipped" if state.unavailable else "load-failed")
                if state.error
                else ("ok" if loaded else "skipped")
            )
            models.append(
                ModelRecord(
                    slug=request.slug,
                    requested=request.requested,
                    model_id=loaded.model_id if loaded else request.model_id,
                    source=loaded.source if loaded else ("folder" if request.path else "catalog"),
                    path=str(path) if path else None,
                    execution_provider=loaded.execution_provider if loaded else None,
                    device=loaded.device if loaded else None,
                    files_sha256=footprint.sha256 if footprint else None,
                    disk_bytes=footprint.bytes if footprint else None,
                    license=request.license or (loaded.license if loaded else None),
                    capabilities=list(request.capabilities or (loaded.capabilities if loaded else ())),
                    notes=request.notes,
                    status=status,  # type: ignore[typeddict-item]
                    reason=state.error if state.error else (None if loaded else "no test used this model"),
                    load_s=loaded.load_s if loaded else None,
                    cold_ttft_s=state.cold_ttft_s,
                    memory=None
                    if state.memory_pid is None
                    else {
                        "scope": "in-process" if self.backend == "foundry-local" else "server",
                        "pid": state.memory_pid,
                        "rss_before_load_bytes": state.rss_before_load,
                        "peak_rss_bytes": state.peak_rss,
                        "delta_bytes": delta,
                    },
                )
            )
        cells: list[CellRecord] = []
        prompt_order = {p.id: i for i, p in enumerate(self.prompts)}
        model_order = {slug: i for i, slug in enumerate(self.models)}
        for key in sorted(
            self.cells, key=lambda k: (model_order[k[0]], prompt_order.get(k[1], 1 << 30), k[1])
        ):
            cell = self.cells[key]
            status, reason = self._cell_status(cell)
            cells.append(
                CellRecord(
                    model=cell.model,
                    prompt=cell.prompt,
                    status=status,  # type: ignore[typeddict-item]
                    reason=reason,
                    max_tokens=cell.max_tokens,
                    seed=cell.seed,
                    warmup=[m.as_dict() for m in cell.warmup],  # type: ignore[misc]
                    samples=[m.as_dict() for m in cell.samples],  # type: ignore[misc]
                    summary={k: v.as_dict() for k, v in summarize_requests(cell.samples).items()},  # type: ignore[misc]
                    output=cell.output,
                )
            )
        # Cells of a model that never loaded still appear, with the reason.
        recorded = {(c["model"], c["prompt"]) for c in cells}
        for state in self.models.values():
            if state.error is None:
                continue
            for prompt in self.prompts:
                if (state.request.slug, prompt.id) not in recorded:
                    cells.append(
                        CellRecord(
                            model=state.request.slug,
                            prompt=prompt.id,
                            status="skipped" if state.unavailable else "load-failed",
                            reason=state.error,
                            max_tokens=prompt.max_tokens or self.settings.max_tokens,
                            seed=self.settings.seed,
                            warmup=[],
                            samples=[],
                            summary={},
                            output=None,
                        )
                    )
        s = self.settings
        run = RunRecord(
            backend=self.backend,  # type: ignore[typeddict-item]
            endpoint=s.endpoint,
            rounds=s.rounds,
            warmup=s.warmup,
            max_tokens=s.max_tokens,
            seed=s.seed,
            temperature=s.temperature,
            timeout_s=s.timeout_s,
            power_watts=s.power_watts,
            price_per_kwh=s.price_per_kwh,
            prompts_file=str(s.prompts_file) if s.prompts_file else None,
            models_file=str(s.models_file) if s.models_file else None,
        )
        if self.lockstep is not None:
            stats = self.lockstep.stats
            run["lockstep"] = LockstepRecord(
                seat=stats.seat,
                partnered_turns=stats.partnered_turns,
                solo_turns=stats.solo_turns,
                waited_s=round(stats.waited_s, 6),
                note=stats.note,
            )
        from pytest_foundry.results import SCHEMA_NAME, SCHEMA_VERSION

        return Results(
            schema=SCHEMA_NAME,
            schema_version=SCHEMA_VERSION,
            created_at=self.created_at.isoformat(timespec="seconds"),
            run=run,
            fingerprint=machine_fingerprint(),
            git=git_state(Path.cwd()),
            models=models,
            cells=cells,
        )

    # -- end of run ------------------------------------------------------------------
    @property
    def used(self) -> bool:
        return bool(self.cells) or any(s.loads or s.error for s in self.models.values())

    def finish(self, *, interrupted: bool = False) -> None:
        """After the tests: judge the outputs, build the results, write the report,
        save/compare baselines.  Problems become one-line messages, never raised."""
        if self.lockstep is not None:
            if interrupted:
                self.lockstep.close()  # Ctrl-C: leave now, the partner goes on alone
            else:
                # Measuring is over: wait for the partner's last requests before the
                # CPU-heavy steps below (and the judge, whose requests need no turns).
                self.lockstep.finish()
            if self.lockstep.stats.seat is not None:
                self.notes.append(self.lockstep.summary())
        if not self.used:
            return
        if self.settings.judge:
            self._steps("judge", self._judge_outputs)
        try:
            self.results = self.build_results()
        except Exception as exc:
            self.finish_errors.append(f"results not built: {type(exc).__name__}: {one_line(str(exc))}")
            return
        if self.settings.report_dir is not None:
            self._steps("report not written", self._write_report)
        if self.settings.save:
            self._steps("baseline not saved", self._save_baseline)
        if self.baseline is not None:
            self._steps("gate", self._run_gate)

    def _steps(self, what: str, step: Callable[[], None]) -> None:
        try:
            step()
        except FoundryError as exc:
            self.finish_errors.append(f"{what}: {one_line(str(exc))}")
            if what == "gate":
                self.failed_gate = True  # a refused comparison must not pass silently
        except Exception as exc:
            # Whatever broke, the run's verdict stands: say so in one line.
            self.finish_errors.append(f"{what}: {type(exc).__name__}: {one_line(str(exc))}")
            if what == "gate":
                self.failed_gate = True

    def _write_report(self) -> None:
        from pytest_foundry.quality.annotations import stub_outputs, write_stub
        from pytest_foundry.report.writer import write_report

        assert self.results is not None and self.settings.report_dir is not None
        self.written.extend(write_report(self.results, self.settings.report_dir))
        outputs = stub_outputs(self.results["cells"])
        if outputs:
            # With --foundry-annotations the file itself gains blanks for new outputs (its
            # scores kept), ready for a reviewer to fill in and commit; otherwise a stub
            # goes into the report folder to start from.
            stub = self.settings.annotations or self.settings.report_dir / "annotations.json"
            unscored = write_stub(stub, outputs, existing=self.annotations)
            if unscored:
                self.notes.append(f"{unscored} output(s) await a 1-5 score in {stub}")

    def _save_baseline(self) -> None:
        from pytest_foundry.gate.baselines import save_baseline

        assert self.results is not None and self.settings.save is not None
        path = save_baseline(self.results, self.settings.save, self.settings.baseline_dir)
        self.notes.append(f"baseline {self.settings.save!r} saved: {path}")

    def _run_gate(self) -> None:
        from pytest_foundry.gate.benchmark_json import write_benchmark_json
        from pytest_foundry.gate.compare import compare_results
        from pytest_foundry.gate.render import write_markdown

        assert self.results is not None and self.baseline is not None
        report = compare_results(
            self.baseline, self.results, self.gate_policy, force=self.settings.compare_force
        )
        self.gate_report = report
        self.failed_gate = report.failed
        if self.settings.report_dir is not None:
            write_markdown(report, self.settings.report_dir / "gate.md")
            self.written.append(self.settings.report_dir / "gate.md")
            self.written.extend(
                write_benchmark_json(self.results, self.settings.report_dir, report, self.gate_policy)
            )

    def _judge_outputs(self) -> None:
        """Score every output against its prompt's rubric with the judge model, after
        the tests, so the judge's latency never mixes with the benchmarked figures."""
        from pytest_foundry.quality.judge import (
            DEFAULT_RUBRIC,
            JudgeError,
            JudgeVerdict,
            aggregate_judgements,
            build_judge_messages,
            parse_judge_response,
        )

        assert self.settings.judge is not None
        runtime = self.ensure_runtime()
        request = model_requests([self.settings.judge], self.models_file, self.base_dir)[0]
        judge = ModelState(request)
        prompts = {p.id: p for p in self.prompts}
        try:
            judge.loaded = runtime.load(request, self.progress)
            judge.client = make_client(judge.loaded.base_url, self.settings.timeout_s)
        except FoundryError as exc:
            raise ModelError(f"judge {self.settings.judge}: {one_line(str(exc))}") from None
        try:
            for cell in self.cells.values():
                prompt = prompts.get(cell.prompt)
                if cell.output is None or prompt is None:
                    continue
                rubric = list(prompt.rubric) or list(DEFAULT_RUBRIC)
                messages = build_judge_messages(prompt.prompt, cell.output["text"], rubric)
                verdicts: list[JudgeVerdict | JudgeError] = []
                for repeat in range(self.settings.judge_repeats):
                    try:
                        answer = self._request(
                            judge, messages, JUDGE_MAX_TOKENS, self.settings.seed + repeat, 0.0
                        )
                    except FoundryError as exc:
                        verdicts.append(JudgeError(one_line(str(exc))))
                        continue
                    verdicts.append(parse_judge_response(answer.text, rubric))
                quality = cell.output.setdefault("quality", {})
                quality["judge"] = {"model": judge.loaded.model_id, **aggregate_judgements(verdicts)}
        finally:
            if judge.client is not None:
                judge.client.close()
            runtime.unload(judge.loaded)

    def summary_lines(self) -> list[str]:
        from pytest_foundry.terminal_table import results_table

        lines: list[str] = []
        if self.results is not None:
            lines.extend(results_table(self.results))
            loads = ", ".join(f"{slug} x{state.loads}" for slug, state in self.models.items() if state.loads)
            lines.append(f"model loads: {self.load_count} ({loads or 'none'})")
        if self.gate_report is not None:
            from pytest_foundry.gate.render import terminal_lines

            lines.extend(terminal_lines(self.gate_report))
        lines.extend(self.notes)
        if self.results is not None and self.written and self.settings.report_dir is not None:
            from pytest_foundry.report.writer import summary_lines

            # Only its last line, the report's path: the table above already has the figures.
            report_path = summary_lines(self.results, self.settings.report_dir, self.written)[-1]
        else:
            report_path = None
        lines.extend(f"error: {message}" for message in self.finish_errors)
        if report_path:
            lines.append(report_path)
        return lines
