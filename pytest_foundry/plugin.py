"""pytest-foundry's hooks and fixtures: thin, delegating to the session object.

Registered through the ``pytest11`` entry point.  All run state lives in one
FoundrySession under ``SESSION_KEY``; the logic lives in modules that never import
pytest.  Importing this module imports no heavy library (openai, httpx, jsonschema,
numpy, psutil, matplotlib, scipy, the SDK): a pytest run that uses no foundry fixture
pays nothing for the plugin being installed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from pytest_foundry.errors import FoundryError, ModelUnavailable
from pytest_foundry.options import Settings, register_options, settings_from_config

if TYPE_CHECKING:
    from pytest_foundry.concurrency import LevelStats
    from pytest_foundry.prompts import PromptSpec
    from pytest_foundry.runtime.base import LoadedModel
    from pytest_foundry.runtime.streaming import Generation
    from pytest_foundry.session import FoundrySession

SESSION_KEY = pytest.StashKey["FoundrySession"]()
# Failed deterministic checks of the outputs a test generated.
FAILED_CHECKS_KEY = pytest.StashKey[list[str]]()

Generate = Callable[..., "Generation"]
T = TypeVar("T")


def _session(config: pytest.Config) -> FoundrySession:
    return config.stash[SESSION_KEY]


def _has_xdist(config: pytest.Config) -> bool:
    # pytest-xdist's hooks exist only where it is installed (xdist_hooks.py).
    pm = config.pluginmanager
    return pm.hasplugin("xdist") or pm.hasplugin("xdist.plugin")


# -- hooks ---------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    register_options(parser)


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(
    config: pytest.Config,
) -> Generator[None, int | pytest.ExitCode, int | pytest.ExitCode]:
    # Before pytest-xdist turns "-n N" into "--dist load": group the cases by model.  A
    # wrapper runs before every plain implementation; tryfirst would depend on which
    # plugin the entry points happened to register last.
    if _has_xdist(config):
        from pytest_foundry.xdist_hooks import choose_dist

        choose_dist(config)
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    from pytest_foundry.plugin_adapters import download_progress, long_work_progress
    from pytest_foundry.runtime import create_runtime
    from pytest_foundry.session import FoundrySession

    try:
        session = FoundrySession(
            settings_from_config(config),
            lambda s: create_runtime(s.endpoint, s.cache_dir, s.catalog, s.timeout_s, s.llama),
            base_dir=config.invocation_params.dir,
            progress=download_progress(config),
            phase=long_work_progress(config),
        )
    except FoundryError as exc:
        # Bad options, prompts/models files, gate spec or baseline: one line, no traceback.
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = session
    if _has_xdist(config):
        from pytest_foundry.xdist_hooks import start_xdist

        try:
            start_xdist(config, session)
        except FoundryError as exc:
            session.close()
            raise pytest.UsageError(str(exc)) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()
        del config.stash[SESSION_KEY]


def pytest_report_header(config: pytest.Config) -> str:
    from pytest_foundry.runtime import describe_backend

    session = _session(config)
    s = session.settings
    models = ", ".join(r.slug for r in session.inputs.requests)
    shard = f" (shard {s.shard[0]}/{s.shard[1]}: {', '.join(session.shard_slugs)})" if s.shard else ""
    return (
        f"foundry: {describe_backend(s.endpoint, session.inputs.requests, s.llama)}; models {models}{shard}; "
        f"{len(session.prompts)} prompts, "
        f"rounds {s.rounds} + warmup {s.warmup}, max_tokens {s.max_tokens}"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = _session(metafunc.config)
    # Every test gets the full model list: per-test subsets would make pytest set the
    # session-scoped model up again (pytest#6979).
    if "foundry_model" in metafunc.fixturenames:
        slugs = [request.slug for request in session.inputs.requests]
        values: list[Any] = slugs
        if _has_xdist(metafunc.config):
            from pytest_foundry.xdist_hooks import grouped_params

            values = grouped_params(slugs)  # each model's cases go to one worker
        metafunc.parametrize("foundry_model", values, indirect=True, scope="session", ids=slugs)
    if "foundry_prompt" in metafunc.fixturenames:
        metafunc.parametrize("foundry_prompt", session.prompts, ids=[p.id for p in session.prompts])
    if "foundry_concurrency" in metafunc.fixturenames:
        levels = session.settings.concurrency
        metafunc.parametrize("foundry_concurrency", levels, indirect=True, ids=[f"c{n}" for n in levels])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # --foundry-shard=K/N: the other shards' models are deselected, reported as such.
    session = _session(config)
    if session.settings.shard is None:
        return
    from pytest_foundry.plugin_adapters import split_by_model

    kept, deselected = split_by_model(items, set(session.shard_slugs))
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    # syrupy may write a snapshot during the test (on --snapshot-update); see below.
    if "foundry_snapshot" not in getattr(item, "fixturenames", ()):
        return (yield)
    from pytest_foundry.plugin_adapters import snapshot_names_unrelated_to_tests
    from pytest_foundry.snapshots import SnapshotWriteError

    failure: str | None = None
    with snapshot_names_unrelated_to_tests():
        try:
            return (yield)
        except SnapshotWriteError as exc:
            failure = str(exc)
    pytest.fail(failure, pytrace=False)


# trylast: inside pytest-xdist's own wrapper, which sends a worker's output after it.
@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
    from pytest_foundry.plugin_adapters import snapshot_names_unrelated_to_tests
    from pytest_foundry.snapshots import SnapshotWriteError

    snapshot_error: str | None = None
    with snapshot_names_unrelated_to_tests():  # syrupy writes queued snapshots here
        try:
            yield
        except SnapshotWriteError as exc:
            snapshot_error = f"snapshots not written: {exc}"
    foundry = _session(session.config)
    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: the controller reports
        from pytest_foundry.xdist_hooks import send_records

        send_records(session.config, foundry, (snapshot_error,) if snapshot_error else ())
        foundry.close()
        return
    try:
        summary = foundry.finish(
            interrupted=exitstatus == pytest.ExitCode.INTERRUPTED,
            errors=(snapshot_error,) if snapshot_error else (),
        )
    except KeyboardInterrupt:
        # A second Ctrl-C while the report is written: every file is written atomically,
        # so what is on disk is whole; leave at once.
        session.exitstatus = pytest.ExitCode.INTERRUPTED
        return
    finally:
        foundry.close()
    if summary.failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test whose outputs failed deterministic checks: xfail-style with
    ``--foundry-checks=report`` (the default), a failure with ``--foundry-checks=fail``."""
    report: pytest.TestReport = yield
    failed = item.stash.get(FAILED_CHECKS_KEY, [])
    if report.when == "call" and report.passed and failed:
        message = f"{len(failed)} check(s) failed: " + "; ".join(failed)
        if _session(item.config).settings.checks == "fail":
            report.outcome = "failed"
            report.longrepr = message
        else:
            report.outcome = "skipped"
            report.wasxfail = message
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from pytest_foundry.run_summary import summary_lines

    lines = summary_lines(_session(terminalreporter.config).summary)
    if lines:
        terminalreporter.section("foundry")
        for line in lines:
            terminalreporter.write_line(line)


# -- fixtures ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def foundry_session(pytestconfig: pytest.Config) -> FoundrySession:
    """The run's FoundrySession: inputs, model pool, recorder and, at the end, the summary."""
    return _session(pytestconfig)


@pytest.fixture(scope="session")
def foundry_settings(foundry_session: FoundrySession) -> Settings:
    """The resolved ``--foundry-*`` settings (rounds, warmup, max_tokens, seed, ...)."""
    return foundry_session.settings


@pytest.fixture(scope="session")
def foundry_model(request: pytest.FixtureRequest, foundry_session: FoundrySession) -> Iterator[LoadedModel]:
    """The model under test, loaded once per session and warmed; parametrized over
    ``--foundry-models``.  A model that cannot be resolved or loaded errors its own
    tests with a one-line reason; the other models still run."""
    slug = getattr(request, "param", None)
    if slug is None:
        raise pytest.UsageError(
            "foundry_model is parametrized by pytest-foundry; do not request it from a non-test"
        )
    if hasattr(request.config, "workerinput"):
        from pytest_foundry.xdist_hooks import ungrouped_reason

        reason = ungrouped_reason(request.config)
        if reason is not None:
            pytest.fail(reason, pytrace=False)
    loaded = _or_fail(lambda: foundry_session.pool.acquire(slug).loaded)
    assert loaded is not None
    yield loaded
    foundry_session.pool.release(slug)


@pytest.fixture
def foundry_prompt(request: pytest.FixtureRequest) -> PromptSpec:
    """The prompt under test (a PromptSpec: id, prompt, system, max_tokens, checks,
    rubric); parametrized over ``--foundry-prompts``."""
    param: PromptSpec = request.param
    return param


@pytest.fixture
def foundry_client(foundry_model: LoadedModel, foundry_session: FoundrySession) -> Any:
    """An ``openai.OpenAI`` client bound to the model's base URL (use
    ``foundry_model.model_id`` as the model name).  Requests made with it directly are
    not measured and, under ``--foundry-lockstep``, do not take turns: prefer
    ``foundry_generate``."""
    return foundry_session.pool.untimed_client(foundry_model.slug)


@pytest.fixture
def foundry_generate(
    request: pytest.FixtureRequest, foundry_model: LoadedModel, foundry_session: FoundrySession
) -> Iterator[Generate]:
    """``foundry_generate(prompt, *, max_tokens=None, seed=None, temperature=None)``:
    one measured, streamed request; returns a Generation (text + metrics).

    Outside a benchmark, the last call per prompt is the cell's output (for snapshots
    and quality checks).  For latency, use ``foundry_benchmark``; a test that calls
    this through pytest-benchmark's ``benchmark`` itself still has its calls recorded
    as latency rounds (pytest-benchmark's warm-up rounds kept apart).
    """
    from pytest_foundry.plugin_adapters import benchmark_calls, record_output

    benchmark = request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None
    calls: list[tuple[PromptSpec, Generation]] = []

    def generate(prompt: PromptSpec | str, **options: Any) -> Generation:
        spec = prompt if not isinstance(prompt, str) else foundry_session.adhoc_prompt(prompt)
        # Outside a benchmark its timings are not recorded: untimed, under pytest-xdist.
        generation = _or_fail(
            lambda: foundry_session.generate(foundry_model.slug, spec, timed=benchmark is not None, **options)
        )
        if benchmark is None:
            # Recorded at once: the snapshot fixture's teardown annotates this output.
            record_output(
                request.node, FAILED_CHECKS_KEY, foundry_session, foundry_model.slug, spec, generation
            )
        else:
            calls.append((spec, generation))
        return generation

    yield generate
    if benchmark is not None:
        benchmark_calls(benchmark, foundry_session, foundry_model.slug, calls)


@pytest.fixture
def foundry_benchmark(
    request: pytest.FixtureRequest,
    benchmark: Any,
    foundry_model: LoadedModel,
    foundry_prompt: PromptSpec,
    foundry_session: FoundrySession,
) -> Callable[..., Generation]:
    """``foundry_benchmark(prompt=None, *, max_tokens=None, seed=None, temperature=None)``:
    the latency rounds of this model x prompt through pytest-benchmark's ``pedantic``:
    ``--foundry-warmup`` warm-up rounds (recorded apart), then ``--foundry-rounds``
    measured rounds, each one streamed request.  TTFT, TPOT, tok/s and the run facts go
    into ``benchmark.extra_info``.  Returns the last Generation."""
    from pytest_foundry.plugin_adapters import run_rounds

    # pytest-benchmark disables itself on a pytest-xdist worker: the rounds are ours there.
    own_rounds = hasattr(request.config, "workerinput")

    def run(prompt: PromptSpec | None = None, **options: Any) -> Generation:
        spec = prompt or foundry_prompt

        def one() -> Generation:
            return _or_fail(lambda: foundry_session.generate(foundry_model.slug, spec, **options))

        return run_rounds(benchmark, foundry_session, foundry_model.slug, spec, one, own_rounds=own_rounds)

    return run


@pytest.fixture
def foundry_concurrency(
    request: pytest.FixtureRequest, foundry_model: LoadedModel, foundry_session: FoundrySession
) -> Callable[..., LevelStats]:
    """``foundry_concurrency(prompt=None, *, requests=None, max_tokens=None)``: one level
    of the concurrency sweep, parametrized over ``--foundry-concurrency`` (ids ``c1``,
    ``c2``, ...): that many streams kept in flight, each request on its own connection,
    until ``--foundry-concurrency-requests`` requests (default: the rounds; at least 2 per
    stream) are spent, on ``prompt`` (default: the run's first prompt), after
    ``--foundry-warmup`` untimed requests per stream, all streams together.  Returns the
    level's LevelStats (system tok/s, errors, TTFT/TPOT/E2E, overlap); the report and
    results.json hold the sweep.  Under --foundry-lockstep a level is one turn."""
    level: int | None = getattr(request, "param", None)
    if level is None:
        raise pytest.UsageError("foundry_concurrency is parametrized by pytest-foundry over its levels")

    def run(prompt: PromptSpec | None = None, **options: Any) -> LevelStats:
        return _or_fail(lambda: foundry_session.run_level(foundry_model.slug, level, prompt, **options))

    return run


@pytest.fixture
def foundry_snapshot(
    request: pytest.FixtureRequest, snapshot: Any, foundry_model: LoadedModel, foundry_session: FoundrySession
) -> Iterator[Any]:
    """A syrupy snapshot that stores one readable text file per model x prompt under
    ``snapshots/<model>/<prompt>.txt`` (``--snapshot-update`` writes them).  Compare a
    Generation with it: ``assert foundry_generate(foundry_prompt) == foundry_snapshot``."""
    from pytest_foundry.plugin_adapters import record_snapshots, snapshot_extension

    prompt = getattr(getattr(request.node, "callspec", None), "params", {}).get("foundry_prompt")
    assertion = snapshot.use_extension(snapshot_extension(foundry_session, prompt))
    yield assertion
    record_snapshots(request.node, foundry_session, foundry_model.slug, assertion)


def _or_fail(call: Callable[[], T]) -> T:
    """``call()``; a FoundryError fails the test with its one line (no traceback), a model
    this machine cannot run (no variant for its device) skips it with the reason."""
    failure: str | None
    try:
        return call()
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    except FoundryError as exc:
        failure = str(exc)
    # Outside the except block, so pytest does not print the reason twice.
    pytest.fail(failure, pytrace=False)
