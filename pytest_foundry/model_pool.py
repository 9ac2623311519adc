"""The model pool: loads, warms and releases models, and sends their requests.

Pure: no pytest.  The tests' models and the judge go through the same path: ``acquire``
loads and warms a model once (later calls return it), ``release`` unloads it, and
``request`` sends one measured, streamed request while watching the serving process's
memory.  Under ``--foundry-lockstep`` every load and request waits for this run's turn;
under pytest-xdist the turn tells timed requests (exclusive) from untimed work (shared),
see shared_turn.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from statistics import median
from typing import TYPE_CHECKING, Any

from pytest_foundry.errors import (
    ConnectionFailed,
    FoundryError,
    ModelError,
    ModelUnavailable,
    RequestTimeout,
    one_line,
)
from pytest_foundry.prompts import PromptSpec
from pytest_foundry.runtime.base import LoadedModel, ModelRequest, ProgressCallback, Runtime, ServerDialect
from pytest_foundry.runtime.chat_client import ChatClient, http_chat_client, openai_client

if TYPE_CHECKING:
    from pytest_foundry.level_runner import LevelRun
    from pytest_foundry.runtime.streaming import Generation

# ``turn(timed)``: wait until this request may run.  timed=True: a measured figure comes
# of it (a latency round, the cold request); False: a load or an untimed request.
Turn = Callable[[bool], AbstractContextManager[None]]
# The cold and warm-up requests after a load use this short probe, not a test prompt: a
# prompt that is too long for the model then fails only its own cells.
PROBE_PROMPT = PromptSpec(id="probe", prompt="Reply with one short sentence about the weather.")
# ``with phase(slug, "loading"):`` tells the user about long work (the plugin's terminal).
Phase = Callable[[str, str], AbstractContextManager[None]]
# (base URL, timeout, server dialect) -> the client that sends a model's measured requests.
ClientFactory = Callable[[str, float, ServerDialect], ChatClient]


@dataclass(frozen=True)
class PoolSettings:
    """What the pool needs of the run's settings."""

    timeout_s: float
    temperature: float
    seed: int
    max_tokens: int
    # Untimed requests after the cold one, so the measured rounds see a steady state.
    model_warmup: int
    # Fresh loads per model whose load time and cold TTFT are summarised by their median:
    # one cold start is a single sample, and its spread (SmolLM2: load 0.6-1.0 s, cold
    # TTFT 100-200 ms run to run) would swap models' ranks by chance.
    cold_starts: int = 1


@dataclass(frozen=True)
class ColdStart:
    """One fresh load of a model in a process of its own, and its first request."""

    load_s: float | None
    cold_ttft_s: float | None
    rss_after_load: int | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "load_s": self.load_s,
            "cold_ttft_s": self.cold_ttft_s,
            "rss_after_load_bytes": self.rss_after_load,
        }


@dataclass
class PooledModel:
    """One model of the pool: its loaded handle or failure, and what loading it cost."""

    request: ModelRequest
    loaded: LoadedModel | None = None
    client: ChatClient | None = None  # sends the measured requests to ``loaded``
    untimed_client: Any = None  # an openai.OpenAI client, made on first ask
    error: str | None = None  # it could not be resolved or loaded (load-failed)
    # It loaded, then failed for good: its host died, a request timed out or the server
    # went away.  Its remaining requests fail at once with this reason (a circuit
    # breaker: a hung model must not hold the run for every remaining case).
    broken: str | None = None
    detail: str | None = None  # the whole text behind error / broken
    unavailable: bool = False  # error is a ModelUnavailable (no variant here): tests skip
    loads: int = 0  # loads that served the tests (extra cold starts are not counted)
    # Every cold start measured, the serving load last (see PoolSettings.cold_starts).
    cold_starts: list[ColdStart] = field(default_factory=list)
    rss_before_load: int | None = None
    peak_rss: int | None = None
    memory_pid: int | None = None
    released: bool = False

    @property
    def slug(self) -> str:
        return self.request.slug

    @property
    def serving(self) -> bool:
        return self.loaded is not None and not self.released

    @property
    def load_s(self) -> float | None:
        """The median load time of the cold starts (None where nothing was loaded)."""
        return _median(start.load_s for start in self.cold_starts)

    @property
    def cold_ttft_s(self) -> float | None:
        """The median TTFT of the first request after each cold start."""
        return _median(start.cold_ttft_s for start in self.cold_starts)


class ModelPool:
    """Loads each model once, on first use, through one runtime started on demand."""

    def __init__(
        self,
        runtime_factory: Callable[[], Runtime],
        settings: PoolSettings,
        warm_prompt: PromptSpec = PROBE_PROMPT,
        *,
        turn: Turn | None = None,
        progress: ProgressCallback | None = None,
        client_factory: ClientFactory = http_chat_client,
        phase: Phase | None = None,
    ) -> None:
        self._phase: Phase = phase or (lambda slug, what: nullcontext())
        self._runtime_factory = runtime_factory
        self._client_factory = client_factory
        self._settings = settings
        self._warm_prompt = warm_prompt
        self._turn: Turn = turn or (lambda timed: nullcontext())
        self.progress = progress
        self.runtime: Runtime | None = None
        self.models: dict[str, PooledModel] = {}

    def add(self, request: ModelRequest, key: str | None = None) -> PooledModel:
        """Make a model known to the pool under ``key`` (default: its slug); nothing
        loads yet.  Idempotent per key."""
        return self.models.setdefault(key or request.slug, PooledModel(request))

    @property
    def load_count(self) -> int:
        return sum(model.loads for model in self.models.values())

    def ensure_runtime(self) -> Runtime:
        if self.runtime is None:
            runtime = self._runtime_factory()
            runtime.start()
            self.runtime = runtime
        return self.runtime

    # -- lifecycle ---------------------------------------------------------------------
    def acquire(self, key: str) -> PooledModel:
        """Load and warm a model once; later calls return the same model.

        Raises ModelError (one line) when it cannot be resolved, loaded or answer; the
        failure is kept, so the model's later tests fail at once with the same reason.
        """
        model = self.models[key]
        if model.error is not None:
            raise (ModelUnavailable if model.unavailable else ModelError)(model.error)
        if model.broken is not None:
            raise ModelError(model.broken)
        if model.serving:
            return model
        if not model.cold_starts:  # the extra samples, once: a later reload adds its own
            self._extra_cold_starts(key, model)
        return self._load_and_warm(model, self._settings.model_warmup)

    def _extra_cold_starts(self, key: str, model: PooledModel) -> None:
        """``cold_starts - 1`` fresh loads before the serving one, each followed by one
        cold request and an unload.  Only where every load is a fresh process (a model
        host); a failure here is the model's failure, as on the serving load."""
        if self._settings.cold_starts < 2 or not self.ensure_runtime().isolated:
            return
        for _ in range(self._settings.cold_starts - 1):
            self._load_and_warm(model, warmups=0, sample=True)
            self.release(key)

    def _load_and_warm(self, model: PooledModel, warmups: int, *, sample: bool = False) -> PooledModel:
        """Load, then the cold request and ``warmups`` more.  ``sample``: an extra cold
        start, not counted as one of the model's loads (each serves once per session)."""
        try:
            # A load is heavy: never while the lockstep partner (or another worker) measures.
            with self._turn(False):
                runtime = self.ensure_runtime()
                from pytest_foundry.memory import current_rss

                # RSS before load: the baseline the model's memory delta is measured from.
                shared_pid = runtime.memory_pid()
                rss_before = current_rss(shared_pid) if shared_pid else None
                with self._phase(model.slug, "loading"):
                    loaded = runtime.load(model.request, self.progress)
        except FoundryError as exc:
            model.error = one_line(str(exc))
            model.detail = getattr(exc, "detail", None) or str(exc)
            model.unavailable = isinstance(exc, ModelUnavailable)
            raise (ModelUnavailable if model.unavailable else ModelError)(model.error) from None
        model.loaded, model.released = loaded, False
        model.loads += 0 if sample else 1
        # A model host reports its own process and memory; otherwise the runtime's.
        model.memory_pid = loaded.pid if loaded.pid is not None else shared_pid
        model.rss_before_load = loaded.rss_before_load if loaded.pid is not None else rss_before
        model.client = self._client_factory(loaded.base_url, self._settings.timeout_s, loaded.dialect)
        with self._phase(model.slug, "warming up"):
            self._warm(model, loaded, warmups)  # a failure here breaks the model (it did load)
        return model

    def _warm(self, model: PooledModel, loaded: LoadedModel, warmups: int) -> None:
        """The first request after load gives the cold TTFT; then ``warmups`` untimed
        full-length requests warm caches so the measured rounds see a steady state."""
        messages = self._warm_prompt.messages()
        for index in range(1 + warmups):
            try:
                generation = self.request(
                    model, messages, self._settings.max_tokens, self._settings.seed, timed=index == 0
                )
            except ModelError as exc:
                if model.broken is None:
                    what = "cold request" if index == 0 else "warm-up request"
                    self._break(model, f"{model.slug}: {what} after load failed: {exc}", exc)
                raise ModelError(model.broken or str(exc)) from None
            if index == 0:
                start = ColdStart(loaded.load_s, generation.metrics.ttft_s, loaded.rss_after_load)
                model.cold_starts.append(start)

    def release(self, key: str) -> None:
        """Unload a model once its tests are done, so the next one has the memory."""
        model = self.models[key]
        if model.serving and self.runtime is not None:
            assert model.loaded is not None
            self.runtime.unload(model.loaded)
            model.released = True
        _close_clients(model)

    @contextmanager
    def borrowed(self, request: ModelRequest, key: str) -> Iterator[PooledModel]:
        """A model for the length of a block (the judge), under a key of its own so its
        figures never mix with a model under test: acquired, then released."""
        self.add(request, key)
        try:
            yield self.acquire(key)
        finally:
            self.release(key)

    def close(self) -> None:
        """Unload every model and stop the runtime (idempotent, never raises)."""
        runtime, self.runtime = self.runtime, None
        for model in self.models.values():
            if model.serving and runtime is not None:
                assert model.loaded is not None
                runtime.unload(model.loaded)
                model.released = True
            _close_clients(model)
        if runtime is not None:
            runtime.close()

    def untimed_client(self, key: str) -> Any:
        """An ``openai.OpenAI`` client for a loaded model (made once, closed on release)."""
        model = self.models[key]
        if model.loaded is None:
            raise ModelError(f"{model.slug}: not loaded")
        if model.untimed_client is None:
            model.untimed_client = openai_client(model.loaded.base_url, self._settings.timeout_s)
        return model.untimed_client

    # -- requests ----------------------------------------------------------------------
    def request(
        self,
        model: PooledModel,
        messages: list[dict[str, str]],
        max_tokens: int,
        seed: int,
        temperature: float | None = None,
        *,
        timed: bool = True,
    ) -> Generation:
        """One measured, streamed request; raises ModelError / RequestTimeout (one line).
        ``timed=False``: its figures are not recorded, so under pytest-xdist it may run
        alongside other untimed work (never alongside a timed request)."""
        from pytest_foundry.memory import RssSampler, cpu_seconds, measurable_cpu

        client, model_id, pid = _serving(model)

        def send() -> Generation:
            return client.chat(
                model_id,
                messages,
                max_tokens=max_tokens,
                temperature=self._settings.temperature if temperature is None else temperature,
                seed=seed,
            )

        try:
            if pid is None:
                with self._turn(timed):
                    return send()  # no process to watch: memory and CPU time stay "n/a"
            with self._turn(timed), RssSampler(pid) as sampler:
                cpu_before = cpu_seconds(pid)
                generation = send()
                cpu_after = cpu_seconds(pid)
        except (RequestTimeout, ConnectionFailed) as exc:
            if self._host_died(model, exc):
                raise type(exc)(model.broken or str(exc), detail=exc.detail) from None
            self._break(model, f"{exc} (later requests to {model.slug} fail at once)", exc)
            raise
        except ModelError as exc:
            if self._host_died(model, exc):
                raise ModelError(model.broken or str(exc)) from None
            raise
        if sampler.peak_bytes is not None:
            model.peak_rss = max(model.peak_rss or 0, sampler.peak_bytes)
        return replace(generation, metrics=generation.metrics.with_cpu(measurable_cpu(cpu_before, cpu_after)))

    def request_level(
        self,
        model: PooledModel,
        messages: list[dict[str, str]],
        max_tokens: int,
        seed: int,
        *,
        streams: int,
        requests: int,
        warmup: int = 0,
    ) -> LevelRun:
        """``requests`` measured requests with ``streams`` of them in flight at once, after
        ``warmup`` untimed ones per stream (level_runner.py); the whole level is one
        lockstep turn.  A timeout or a lost connection stops the level and breaks the
        model, as it does for one request."""
        from pytest_foundry.level_runner import run_level

        client, model_id, pid = _serving(model)
        temperature = self._settings.temperature

        def send() -> Generation:
            return client.chat(model_id, messages, max_tokens=max_tokens, temperature=temperature, seed=seed)

        run, fatal = run_level(
            send, streams=streams, requests=requests, warmup=warmup, turn=self._turn(True), pid=pid
        )
        if fatal is not None and not self._host_died(model, fatal):
            self._break(model, f"{fatal} (later requests to {model.slug} fail at once)", fatal)
        return run

    def _host_died(self, model: PooledModel, exc: ModelError) -> bool:
        """After a failed request: has the model's host died?  Then the model is broken."""
        assert model.loaded is not None
        runtime = self.runtime
        cause = runtime.failure_cause(model.loaded) if runtime is not None else None
        if cause is None:
            return False
        self._break(model, cause, exc)
        return True

    @staticmethod
    def _break(model: PooledModel, reason: str, exc: BaseException) -> None:
        model.broken = one_line(reason)
        model.detail = getattr(exc, "detail", None) or str(exc)


def _serving(model: PooledModel) -> tuple[ChatClient, str, int | None]:
    """What a request to a serving model needs: its client, model id and process; raises
    ModelError (one line) when it broke or is not loaded."""
    if model.broken is not None:
        raise ModelError(model.broken)
    client = model.client
    if not model.serving or client is None:
        raise ModelError(f"{model.slug}: not loaded")
    assert model.loaded is not None
    return client, model.loaded.model_id, model.memory_pid


def _median(values: Iterator[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return median(known) if known else None


def _close_clients(model: PooledModel) -> None:
    for client in (model.client, model.untimed_client):
        if client is not None:
            client.close()
    model.client = model.untimed_client = None
