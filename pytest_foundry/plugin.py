"""pytest-foundry's hooks and fixtures: thin, delegating to the session object.

Registered through the ``pytest11`` entry point.  All run state lives in one
FoundrySession under ``SESSION_KEY``; the logic lives in modules that never import
pytest (options, session, matrix, metrics, runtime, snapshots, report, gate, quality).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from pytest_foundry.errors import FoundryError, ModelUnavailable
from pytest_foundry.options import Settings, register_options, settings_from_config
from pytest_foundry.prompts import PromptSpec
from pytest_foundry.runtime import LoadedModel, create_runtime
from pytest_foundry.runtime.streaming import Generation
from pytest_foundry.session import FoundrySession

SESSION_KEY = pytest.StashKey[FoundrySession]()
# Failed deterministic checks of the outputs a test generated.
FAILED_CHECKS_KEY = pytest.StashKey[list[str]]()

Generate = Callable[..., Generation]


def _session(config: pytest.Config) -> FoundrySession:
    return config.stash[SESSION_KEY]


# -- hooks ---------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    register_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    try:
        settings = settings_from_config(config)
        session = FoundrySession(
            settings,
            lambda s: create_runtime(s.endpoint, s.cache_dir, s.catalog),
            base_dir=config.invocation_params.dir,
        )
    except FoundryError as exc:
        # Bad options, prompts/models files, gate spec or baseline: one line, no traceback.
        raise pytest.UsageError(str(exc)) from None
    session.progress = _download_progress(config)
    config.stash[SESSION_KEY] = session


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()
        del config.stash[SESSION_KEY]


def pytest_report_header(config: pytest.Config) -> str:
    session = _session(config)
    s = session.settings
    backend = f"endpoint {s.endpoint}" if s.endpoint else "foundry-local (in-process)"
    models = ", ".join(r.slug for r in session.requests)
    device = f"{platform.machine() or 'cpu'} CPU"
    return (
        f"foundry: backend {backend}; models {models}; device {device}; "
        f"{len(session.prompts)} prompts, rounds {s.rounds} + warmup {s.warmup}, max_tokens {s.max_tokens}"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = _session(metafunc.config)
    # Every test gets the full model list: per-test subsets would make pytest set the
    # session-scoped model up again (pytest#6979).
    if "foundry_model" in metafunc.fixturenames:
        slugs = [request.slug for request in session.requests]
        metafunc.parametrize("foundry_model", slugs, indirect=True, scope="session", ids=slugs)
    if "foundry_prompt" in metafunc.fixturenames:
        metafunc.parametrize("foundry_prompt", session.prompts, ids=[p.id for p in session.prompts])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    foundry = _session(session.config)
    try:
        foundry.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
    finally:
        foundry.close()
    if foundry.failed_gate and session.exitstatus == pytest.ExitCode.OK:
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
    lines = _session(terminalreporter.config).summary_lines()
    if lines:
        terminalreporter.section("foundry")
        for line in lines:
            terminalreporter.write_line(line)


def _download_progress(config: pytest.Config) -> Callable[[str, float], None]:
    """Show catalog downloads on the terminal, even while output is captured."""

    def show(name: str, fraction: float) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        filled = int(fraction * 30)
        text = f"\rdownloading {name} [{'#' * filled}{'.' * (30 - filled)}] {fraction:6.1%}"
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write(text + ("\n" if fraction >= 1 else ""), flush=True)
        else:
            reporter.write(text + ("\n" if fraction >= 1 else ""), flush=True)

    return show


# -- fixtures ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def foundry_session(pytestconfig: pytest.Config) -> FoundrySession:
    """The run's FoundrySession: settings, prompts, models and everything recorded."""
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
    failure: str | None
    try:
        state = foundry_session.acquire_model(slug)
    except ModelUnavailable as exc:
        pytest.skip(str(exc))  # e.g. no variant for this device: never run it elsewhere
    except FoundryError as exc:
        failure = str(exc)
    else:
        failure = None
    if failure is not None:
        # Outside the except block, so pytest does not print the reason twice.
        pytest.fail(failure, pytrace=False)
    assert state.loaded is not None
    yield state.loaded
    foundry_session.release_model(slug)


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
    return foundry_session.models[foundry_model.slug].client


@pytest.fixture
def foundry_generate(
    request: pytest.FixtureRequest, foundry_model: LoadedModel, foundry_session: FoundrySession
) -> Iterator[Generate]:
    """``foundry_generate(prompt, *, max_tokens=None, seed=None, temperature=None)``:
    one measured, streamed request; returns a Generation (text + metrics).

    In a test that uses ``benchmark``, the calls are latency rounds (pytest-benchmark's
    warm-up rounds are kept apart) and their metrics go into ``benchmark.extra_info``;
    otherwise the last call is the cell's output (for snapshots and quality checks).
    """
    calls: list[tuple[PromptSpec, Generation]] = []
    benchmark = request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None

    def generate(
        prompt: PromptSpec | str,
        *,
        max_tokens: int | None = None,
        seed: int | None = None,
        temperature: float | None = None,
    ) -> Generation:
        spec = prompt if isinstance(prompt, PromptSpec) else foundry_session.adhoc_prompt(prompt)
        failure: str | None
        try:
            generation = foundry_session.generate(
                foundry_model.slug, spec, max_tokens=max_tokens, seed=seed, temperature=temperature
            )
        except FoundryError as exc:
            failure = str(exc)
        else:
            failure = None
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        if benchmark is None:
            # Recorded at once: the snapshot fixture's teardown annotates this output.
            failed = foundry_session.record_output(foundry_model.slug, spec, generation)
            request.node.stash.setdefault(FAILED_CHECKS_KEY, []).extend(failed)
        else:
            calls.append((spec, generation))
        return generation

    yield generate
    if benchmark is not None:
        stats = getattr(benchmark, "stats", None)
        # --benchmark-disable runs the function once, untimed by pytest-benchmark: then
        # every call is one of ours to measure.
        measured = (
            len(calls) if getattr(benchmark, "disabled", False) or stats is None else len(stats.stats.data)
        )
        benchmark.extra_info.update(foundry_session.record_latency(foundry_model.slug, calls, measured))


@pytest.fixture
def foundry_snapshot(
    request: pytest.FixtureRequest, snapshot: Any, foundry_model: LoadedModel, foundry_session: FoundrySession
) -> Iterator[Any]:
    """A syrupy snapshot that stores one readable text file per model x prompt under
    ``snapshots/<model>/<prompt>.txt`` (``--snapshot-update`` writes them).  Compare a
    Generation with it: ``assert foundry_generate(foundry_prompt) == foundry_snapshot``."""
    assertion = snapshot.use_extension(foundry_session.snapshot_extension)
    yield assertion
    prompt = getattr(getattr(request.node, "callspec", None), "params", {}).get("foundry_prompt")
    if isinstance(prompt, PromptSpec):
        foundry_session.record_snapshot_results(foundry_model.slug, prompt.id, assertion.executions.values())
