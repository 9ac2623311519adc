"""The plugin layer's adapters: pytest-benchmark, syrupy and terminal objects in,
plain values out to the session's recorder.

Part of the plugin (it knows pytest's, pytest-benchmark's and syrupy's objects), kept
apart so ``plugin.py`` holds only hooks and fixtures.  Imported lazily by them.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from pytest_foundry.prompts import PromptSpec
from pytest_foundry.recorder import SnapshotOutcome

if TYPE_CHECKING:
    from pytest_foundry.runtime.streaming import Generation
    from pytest_foundry.session import FoundrySession


# -- latency rounds (pytest-benchmark) -------------------------------------------------
def run_rounds(
    benchmark: Any,
    session: FoundrySession,
    model: str,
    prompt: PromptSpec,
    one_request: Callable[[], Generation],
    *,
    own_rounds: bool = False,
) -> Generation:
    """The cell's warm-up and measured rounds through ``benchmark.pedantic``; the calls
    are recorded (warm-ups apart) even when a round fails.

    ``own_rounds`` (a pytest-xdist worker, where pytest-benchmark disables itself and
    would run the function once): the rounds are run here, one after the other, so the
    cell still has ``--foundry-rounds`` measured rounds.
    """
    settings = session.settings
    calls: list[tuple[PromptSpec, Generation]] = []
    if own_rounds:

        def all_rounds() -> Generation:
            for _ in range(settings.warmup + settings.rounds):
                calls.append((prompt, one_request()))
            return calls[-1][1]

        try:
            # Through pedantic all the same (run once, as disabled): the fixture is used.
            own: Generation = benchmark.pedantic(all_rounds, rounds=1, warmup_rounds=0, iterations=1)
        finally:
            _record(benchmark, session, model, calls, min(settings.warmup, len(calls)))
        return own

    def round_() -> Generation:
        generation = one_request()
        calls.append((prompt, generation))
        return generation

    try:
        result: Generation = benchmark.pedantic(
            round_, rounds=settings.rounds, warmup_rounds=settings.warmup, iterations=1
        )
    finally:
        # --benchmark-disable runs the function once, with no warm-up: then it is measured.
        warmup = 0 if getattr(benchmark, "disabled", False) else min(settings.warmup, len(calls))
        _record(benchmark, session, model, calls, warmup)
    return result


def benchmark_calls(
    benchmark: Any, session: FoundrySession, model: str, calls: Sequence[tuple[PromptSpec, Generation]]
) -> None:
    """Record calls a test made through ``benchmark`` itself: the last ones pytest-benchmark
    timed are the measured rounds, the earlier ones its warm-up."""
    # --benchmark-disable runs the function once, untimed by pytest-benchmark: then every
    # call is one of ours to measure.
    stats = None if getattr(benchmark, "disabled", False) else getattr(benchmark, "stats", None)
    measured = len(calls) if stats is None else len(stats.stats.data)
    _record(benchmark, session, model, calls, len(calls) - measured)


def _record(
    benchmark: Any,
    session: FoundrySession,
    model: str,
    calls: Sequence[tuple[PromptSpec, Generation]],
    warmup: int,
) -> None:
    session.recorder.record_latency(model, calls, warmup)
    if calls:
        prompt, last = calls[-1]
        loaded = session.pool.models[model].loaded
        variant = loaded.model_id if loaded is not None else None
        benchmark.extra_info.update(session.recorder.latency_info(model, prompt, last, variant))


# -- CI shards --------------------------------------------------------------------------
def split_by_model(
    items: Sequence[pytest.Item], slugs: set[str]
) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """Items of the given models (and items that use no foundry model), and the others."""
    kept: list[pytest.Item] = []
    other: list[pytest.Item] = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        model = params.get("foundry_model")
        (other if model is not None and model not in slugs else kept).append(item)
    return kept, other


# -- outputs and snapshots (syrupy) ----------------------------------------------------
def record_output(
    node: pytest.Item,
    failed_checks_key: pytest.StashKey[list[str]],
    session: FoundrySession,
    model: str,
    prompt: PromptSpec,
    generation: Generation,
) -> None:
    failed = session.recorder.record_output(model, prompt, generation)
    node.stash.setdefault(failed_checks_key, []).extend(failed)


def snapshot_extension(session: FoundrySession, prompt: PromptSpec | None) -> type[Any]:
    """The run's syrupy extension class for a prompt's comparison mode (one per session
    and mode, made on first use)."""
    from pytest_foundry.snapshot_compare import parse_mode
    from pytest_foundry.snapshots import make_extension

    mode = parse_mode(
        (prompt.compare if prompt is not None and prompt.compare else None)
        or session.settings.snapshot_compare,
        "prompts",
    )
    key = str(mode)
    extension = session.snapshot_extensions.get(key)
    if extension is None:
        extension = make_extension(session.settings.snapshot_dir, session.recorder.asserted_snapshots, mode)
        session.snapshot_extensions[key] = extension
    return extension


def snapshot_outcomes(executions: Iterable[Any]) -> list[SnapshotOutcome]:
    """syrupy AssertionResults as plain outcomes."""
    from pytest_foundry.snapshots import snapshot_outcome

    return [
        SnapshotOutcome(*snapshot_outcome(r.created, r.updated, r.success, r.recalled_data, r.asserted_data))
        for r in executions
    ]


def record_snapshots(node: pytest.Item, session: FoundrySession, model: str, assertion: Any) -> None:
    prompt = getattr(getattr(node, "callspec", None), "params", {}).get("foundry_prompt")
    if isinstance(prompt, PromptSpec):
        session.recorder.record_snapshots(model, prompt.id, snapshot_outcomes(assertion.executions.values()))


# -- the terminal ----------------------------------------------------------------------
def _terminal_write(config: pytest.Config, text: str) -> None:
    """Write to the terminal even while output is captured (never raises)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write(text, flush=True)
    else:
        reporter.write(text, flush=True)


def download_progress(config: pytest.Config) -> Callable[[str, float], None]:
    """Show catalog downloads on the terminal, even while output is captured."""

    def show(name: str, fraction: float) -> None:
        filled = int(fraction * 30)
        text = f"\rdownloading {name} [{'#' * filled}{'.' * (30 - filled)}] {fraction:6.1%}"
        _terminal_write(config, text + ("\n" if fraction >= 1 else ""))

    return show


# Work shorter than this stays silent; longer work says what it is and how long it took.
LONG_WORK_S = 2.0
LONG_WORK_EVERY_S = 10.0


def long_work_progress(config: pytest.Config) -> Callable[[str, str], AbstractContextManager[None]]:
    """``with phase("smollm2", "loading"):`` -- after 2 s the terminal says
    "foundry: loading smollm2 ... 2 s" (then every 10 s), and at the end how long it took."""

    @contextmanager
    def phase(slug: str, what: str) -> Iterator[None]:
        started = time.perf_counter()
        done = threading.Event()
        said = threading.Event()

        def tell() -> None:
            wait = LONG_WORK_S
            while not done.wait(wait):
                said.set()
                _terminal_write(config, f"\nfoundry: {what} {slug} ... {time.perf_counter() - started:.0f} s")
                wait = LONG_WORK_EVERY_S

        ticker = threading.Thread(target=tell, name=f"foundry-{what}-{slug}", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            if said.is_set():
                _terminal_write(
                    config, f"\nfoundry: {what} {slug}: done in {time.perf_counter() - started:.1f} s\n"
                )

    return phase


@contextmanager
def snapshot_names_unrelated_to_tests() -> Iterator[None]:
    """Our snapshots are named after the model x prompt on purpose (one file serves any
    test of it); syrupy warns about such names when it writes them."""
    from pytest_foundry.snapshots import UNRELATED_NAME_WARNING

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=UNRELATED_NAME_WARNING, category=UserWarning)
        yield
