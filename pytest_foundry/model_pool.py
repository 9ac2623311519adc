"""The model pool: loads, warms and releases models, and sends their requests.

Pure: no pytest.  The tests' models and the judge go through the same path: ``acquire``
loads and warms a model once (later calls return it), ``release`` unloads it, and
``request`` sends one measured, streamed request while watching the serving process's
memory.  Under ``--foundry-lockstep`` every load and request waits for this run's turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_foundry.errors import FoundryError, ModelError, one_line
from pytest_foundry.prompts import PromptSpec
from pytest_foundry.runtime.base import LoadedModel, ModelRequest, ProgressCallback, Runtime
from pytest_foundry.runtime.chat_client import ChatClient, http_chat_client, openai_client

if TYPE_CHECKING:
    from pytest_foundry.runtime.streaming import Generation

Turn = Callable[[], AbstractContextManager[None]]
# (base URL, timeout) -> the client that sends a model's measured requests.
ClientFactory = Callable[[str, float], ChatClient]


@dataclass(frozen=True)
class PoolSettings:
    """What the pool needs of the run's settings."""

    timeout_s: float
    temperature: float
    seed: int
    max_tokens: int
    # Untimed requests after the cold one, so the measured rounds see a steady state.
    model_warmup: int


@dataclass
class PooledModel:
    """One model of the pool: its loaded handle or failure, and what loading it cost."""

    request: ModelRequest
    loaded: LoadedModel | None = None
    client: ChatClient | None = None  # sends the measured requests to ``loaded``
    untimed_client: Any = None  # an openai.OpenAI client, made on first ask
    error: str | None = None
    loads: int = 0
    cold_ttft_s: float | None = None
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


class ModelPool:
    """Loads each model once, on first use, through one runtime started on demand."""

    def __init__(
        self,
        runtime_factory: Callable[[], Runtime],
        settings: PoolSettings,
        warm_prompt: PromptSpec,
        *,
        turn: Turn | None = None,
        progress: ProgressCallback | None = None,
        client_factory: ClientFactory = http_chat_client,
    ) -> None:
        self._runtime_factory = runtime_factory
        self._client_factory = client_factory
        self._settings = settings
        self._warm_prompt = warm_prompt
        self._turn: Turn = turn or nullcontext
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
            raise ModelError(model.error)
        if model.serving:
            return model
        try:
            with self._turn():  # a load is heavy: never while the lockstep partner measures
                runtime = self.ensure_runtime()
                from pytest_foundry.memory import current_rss

                # RSS before load: the baseline the model's memory delta is measured from.
                model.memory_pid = runtime.memory_pid()
                model.rss_before_load = current_rss(model.memory_pid) if model.memory_pid else None
                model.loaded = runtime.load(model.request, self.progress)
            model.released = False
            model.loads += 1
            model.client = self._client_factory(model.loaded.base_url, self._settings.timeout_s)
            self._warm(model)
        except FoundryError as exc:
            model.error = one_line(str(exc))
            raise ModelError(model.error) from None
        return model

    def _warm(self, model: PooledModel) -> None:
        """The first request after load gives the cold TTFT; then untimed full-length
        requests warm caches so the measured rounds see a steady state."""
        messages = self._warm_prompt.messages()
        for index in range(1 + self._settings.model_warmup):
            generation = self.request(model, messages, self._settings.max_tokens, self._settings.seed)
            if index == 0:
                model.cold_ttft_s = generation.metrics.ttft_s

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
    ) -> Generation:
        """One measured, streamed request; raises ModelError / RequestTimeout (one line)."""
        from pytest_foundry.memory import RssSampler

        client = model.client
        if not model.serving or client is None:
            raise ModelError(f"{model.slug}: not loaded")
        assert model.loaded is not None
        model_id = model.loaded.model_id

        def send() -> Generation:
            return client.chat(
                model_id,
                messages,
                max_tokens=max_tokens,
                temperature=self._settings.temperature if temperature is None else temperature,
                seed=seed,
            )

        if model.memory_pid is None:
            with self._turn():
                return send()  # no process to watch: memory stays "n/a"
        with self._turn(), RssSampler(model.memory_pid) as sampler:
            generation = send()
        if sampler.peak_bytes is not None:
            model.peak_rss = max(model.peak_rss or 0, sampler.peak_bytes)
        return generation


def _close_clients(model: PooledModel) -> None:
    for client in (model.client, model.untimed_client):
        if client is not None:
            client.close()
    model.client = model.untimed_client = None
