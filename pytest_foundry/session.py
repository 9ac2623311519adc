"""FoundrySession: one pytest run's stages, wired together.

No pytest imports: the plugin stores one instance under a StashKey and delegates to it.
The stages each have one job:

* ``inputs`` (run_inputs.py): settings, prompts and model requests, resolved once;
* ``pool`` (model_pool.py): loads, warms and releases models, for tests and judge alike;
* ``recorder`` (recorder.py): every cell's requests and output, as plain values;
* ``results_builder.build_results``: recorder + models + fingerprint -> results.json;
* post-run steps (post_run.py): judge, report, baseline, gate, each an outcome value;
* ``finish`` returns one RunSummary (run_summary.py) that the terminal summary prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_foundry.errors import ModelError, RequestTimeout, one_line
from pytest_foundry.lockstep import Lockstep
from pytest_foundry.model_pool import ClientFactory, ModelPool, Phase, PooledModel, PoolSettings
from pytest_foundry.options import Settings
from pytest_foundry.post_run import StepOutcome
from pytest_foundry.prompts import PromptSpec
from pytest_foundry.quality.annotations import output_sha256
from pytest_foundry.recorder import Recorder
from pytest_foundry.report_lock import FolderBusy, report_folder_lock
from pytest_foundry.run_inputs import RunInputs, load_inputs
from pytest_foundry.run_summary import EMPTY_SUMMARY, RunSummary
from pytest_foundry.runtime.base import ProgressCallback, Runtime
from pytest_foundry.runtime.chat_client import http_chat_client

if TYPE_CHECKING:
    from pytest_foundry.concurrency import LevelStats
    from pytest_foundry.results import Results, ShardRecord
    from pytest_foundry.runtime.streaming import Generation
    from pytest_foundry.shared_turn import SharedTurn


class FoundrySession:
    """Per-run state.  Created at configure time; models load lazily, on first use."""

    def __init__(
        self,
        settings: Settings,
        runtime_factory: Callable[[Settings], Runtime],
        base_dir: Path,
        progress: ProgressCallback | None = None,
        client_factory: ClientFactory = http_chat_client,
        phase: Phase | None = None,
    ) -> None:
        self.inputs: RunInputs = load_inputs(settings, base_dir)
        self.lockstep: Lockstep | None = Lockstep(settings.lockstep) if settings.lockstep else None
        self.pool = ModelPool(
            lambda: runtime_factory(settings),
            PoolSettings(
                timeout_s=settings.timeout_s,
                temperature=settings.temperature,
                seed=settings.seed,
                max_tokens=settings.max_tokens,
                model_warmup=settings.model_warmup,
                cold_starts=settings.cold_starts,
            ),
            turn=self.turn,
            progress=progress,
            client_factory=client_factory,
            phase=phase,
        )
        for request in self.inputs.requests:
            self.pool.add(request)
        # The models this run measures: all of them, or this CI shard's (shards.py).
        self.shard_slugs: tuple[str, ...] = tuple(r.slug for r in self.inputs.requests)
        if settings.shard is not None:
            from pytest_foundry.shards import shard_slugs

            self.shard_slugs = shard_slugs(self.shard_slugs, *settings.shard)
        self.recorder = Recorder(settings.max_tokens, settings.seed, self.inputs.annotations)
        self.created_at = datetime.now(UTC)
        # How busy the machine was when the run began: a fair comparison says so.
        self.load_average_start = os.getloadavg() if hasattr(os, "getloadavg") else None
        # The run's syrupy extension classes by comparison mode, made by the plugin layer.
        self.snapshot_extensions: dict[str, type[Any]] = {}
        self.summary: RunSummary = EMPTY_SUMMARY
        # Under pytest-xdist (xdist_hooks.py): a worker's turn shared with the other
        # workers; the controller's problems with the workers' records.
        self.shared_turn: SharedTurn | None = None
        self.worker_problems: list[str] = []

    @property
    def settings(self) -> Settings:
        return self.inputs.settings

    @property
    def prompts(self) -> tuple[PromptSpec, ...]:
        return self.inputs.prompts

    @property
    def models_under_test(self) -> dict[str, PooledModel]:
        return {slug: self.pool.models[slug] for slug in self.shard_slugs}

    def turn(self, timed: bool = True) -> AbstractContextManager[None]:
        """With --foundry-lockstep, wait for this run's turn; as a pytest-xdist worker,
        for the workers' shared turn (exclusive when ``timed``); otherwise go straight on."""
        if self.lockstep is not None:
            return self.lockstep.turn()
        if self.shared_turn is not None:
            return self.shared_turn.take(timed)
        return nullcontext()

    def close(self) -> None:
        """Unload every model and stop the runtime (idempotent, never raises)."""
        if self.lockstep is not None:
            self.lockstep.close()
        self.pool.close()
        if self.shared_turn is not None:
            self.shared_turn.close()

    # -- what tests do -------------------------------------------------------------------
    def generate(
        self,
        model: str,
        prompt: PromptSpec,
        *,
        max_tokens: int | None = None,
        seed: int | None = None,
        temperature: float | None = None,
        timed: bool = True,
    ) -> Generation:
        """One measured request for a model x prompt; a failure is recorded on the cell
        and re-raised as a one-line ModelError / RequestTimeout.  ``timed=False`` (an
        output test's request, whose timings are not recorded) may run alongside other
        workers' untimed work under pytest-xdist."""
        pooled = self.pool.acquire(model)
        cell = self.recorder.cell(model, prompt)
        try:
            return self.pool.request(
                pooled,
                prompt.messages(),
                max_tokens or cell.max_tokens,
                cell.seed if seed is None else seed,
                temperature,
                timed=timed,
            )
        except RequestTimeout as exc:
            self.recorder.record_failure(model, prompt, "timeout", str(exc), exc.detail)
            raise
        except ModelError as exc:
            self.recorder.record_failure(model, prompt, "error", str(exc), exc.detail)
            raise

    def run_level(
        self,
        model: str,
        level: int,
        prompt: PromptSpec | None = None,
        *,
        requests: int | None = None,
        max_tokens: int | None = None,
    ) -> LevelStats:
        """One level of the concurrency sweep: ``level`` streams in flight until the
        level's requests are spent (``--foundry-concurrency-requests``, default the
        rounds; at least 2 per stream), on ``prompt`` (default: the run's first prompt),
        after ``--foundry-warmup`` untimed requests per stream.
        The level is recorded, failed requests included; raises ModelError (one line)
        when it could not start, or when the model broke during it."""
        from pytest_foundry.concurrency import level_stats, requests_for_level
        from pytest_foundry.recorder import LevelState

        spec = prompt or self.prompts[0]
        settings = self.settings
        count = requests_for_level(level, requests or settings.concurrency_requests or settings.rounds)
        state = LevelState(
            model,
            level,
            spec.id,
            max_tokens or spec.max_tokens or settings.max_tokens,
            settings.seed,
            warmup=settings.warmup,
        )
        try:
            pooled = self.pool.acquire(model)
            state.run = self.pool.request_level(
                pooled,
                spec.messages(),
                state.max_tokens,
                state.seed,
                streams=level,
                requests=count,
                warmup=state.warmup,
            )
        except ModelError as exc:
            state.reason = one_line(str(exc))
            raise
        except KeyboardInterrupt:
            state.reason = "interrupted before the level ended"
            raise
        finally:
            self.recorder.record_level(state)
        if pooled.broken is not None:
            state.reason = pooled.broken
            raise ModelError(pooled.broken)
        return level_stats(level, state.run.requests)

    def adhoc_prompt(self, text: str) -> PromptSpec:
        """A PromptSpec for a prompt given as plain text in a test."""
        return PromptSpec(id="adhoc_" + output_sha256(text)[:10], prompt=text)

    # -- pytest-xdist: a worker's records, merged by the controller ------------------------
    def worker_records(self, errors: tuple[str, ...] = ()) -> dict[str, Any]:
        """A worker's cells and model figures as plain values, for the controller."""
        from pytest_foundry.worker_records import export_records

        return export_records(self.recorder, self.pool.models, errors)

    def merge_worker(self, worker: str, payload: Any) -> None:
        """Merge one worker's records (worker_records.py); problems fail the run."""
        from pytest_foundry.worker_records import import_records

        if payload is None:
            self.worker_problems.append(f"worker {worker} sent no records: its cells are missing")
            return
        problems = import_records(payload, self.recorder, self.pool.models)
        self.worker_problems.extend(f"worker {worker}: {problem}" for problem in problems)

    # -- end of run ----------------------------------------------------------------------
    @property
    def used(self) -> bool:
        return bool(self.recorder.cells or self.recorder.levels) or any(
            m.loads or m.error for m in self.models_under_test.values()
        )

    def shard_record(self) -> ShardRecord | None:
        shard = self.settings.shard
        if shard is None:
            return None
        every = sorted(request.slug for request in self.inputs.requests)
        record: ShardRecord = {
            "index": shard[0],
            "count": shard[1],
            "models": list(self.shard_slugs),
            "all_models": every,
        }
        return record

    def build_results(self, *, interrupted: bool = False) -> Results:
        from pytest_foundry.fingerprint import git_state, machine_fingerprint
        from pytest_foundry.footprint import folder_footprint
        from pytest_foundry.results_builder import RunContext, build_results

        context = RunContext(
            created_at=self.created_at,
            fingerprint=machine_fingerprint(),
            git=git_state(Path.cwd()),
            lockstep=self.lockstep.stats if self.lockstep is not None else None,
            interrupted=interrupted,
            shard=self.shard_record(),
            load_average_start=self.load_average_start,
        )
        return build_results(
            self.inputs,
            self.recorder,
            self.models_under_test,
            context,
            # A model folder, or a GGUF file.
            lambda path: folder_footprint(path) if path.is_dir() or path.is_file() else None,
        )

    def finish(self, *, interrupted: bool = False, errors: tuple[str, ...] = ()) -> RunSummary:
        """After the tests: judge the outputs, build the results, write the report,
        save and compare baselines.  Problems become one-line messages, never raised."""
        from pytest_foundry import post_run

        errors = (*errors, *self.worker_problems)
        notes: list[str] = []
        if self.lockstep is not None:
            if interrupted:
                self.lockstep.close()  # Ctrl-C: leave now, the partner goes on alone
            else:
                # Measuring is over: wait for the partner's last requests before the
                # CPU-heavy steps below (and the judge, whose requests need no turns).
                self.lockstep.finish()
            if self.lockstep.stats.seat is not None:
                notes.append(self.lockstep.summary())
        if not self.used:
            self.summary = RunSummary(results=None, notes=tuple(notes), errors=errors)
            return self.summary
        settings = self.settings
        steps: list[StepOutcome] = []
        if self.inputs.judge is not None:
            steps.append(post_run.judge_outputs(self.inputs, self.recorder, self.pool))
        try:
            results = self.build_results(interrupted=interrupted)
        except Exception as exc:
            error = f"results not built: {type(exc).__name__}: {one_line(str(exc))}"
            self.summary = RunSummary(
                results=None, steps=tuple(steps), notes=tuple(notes), errors=(*errors, error)
            )
            return self.summary
        try:
            # The report folder ends with one run's complete set (report_lock.py).
            with report_folder_lock(settings.report_dir) if settings.report_dir else nullcontext() as note:
                if note:
                    notes.append(note)
                if settings.report_dir is not None:
                    steps.append(post_run.write_report(self.inputs, results))
                if settings.save and interrupted:
                    # A partial run is no baseline: a later compare would pass against its gaps.
                    notes.append(f"baseline {settings.save!r} not saved: the run was interrupted")
                elif settings.save:
                    steps.append(post_run.save_baseline(self.inputs, results))
                if self.inputs.baseline is not None:
                    steps.append(post_run.gate(self.inputs, results))
        except (FolderBusy, OSError) as exc:  # the folder itself: busy, or not creatable
            steps.append(StepOutcome(step="report", error=one_line(str(exc)), fails_run=True))
        self.summary = RunSummary(
            results=results,
            load_counts=tuple((slug, model.loads) for slug, model in self.models_under_test.items()),
            steps=tuple(steps),
            notes=tuple(notes),
            errors=errors,
            report_dir=settings.report_dir,
        )
        return self.summary
