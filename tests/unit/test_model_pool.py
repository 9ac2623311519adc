"""The model pool with a fake runtime: load once, warm, release, fail once, judge apart."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from fake_runtime import FakeChat, FakeRuntime, generation

from pytest_foundry.errors import ModelError, RequestTimeout
from pytest_foundry.model_pool import PROBE_PROMPT, ModelPool, PoolSettings
from pytest_foundry.prompts import PromptSpec
from pytest_foundry.runtime.base import DEFAULT_DIALECT, ModelRequest

SETTINGS = PoolSettings(timeout_s=5.0, temperature=0.0, seed=42, max_tokens=16, model_warmup=2)
WARM = PromptSpec(id="warm", prompt="Say hi.")
TINY = ModelRequest(requested="tiny", slug="tiny")
OTHER = ModelRequest(requested="other", slug="other")


def make_pool(runtime: FakeRuntime, chat: FakeChat, **kwargs) -> ModelPool:
    pool = ModelPool(lambda: runtime, SETTINGS, WARM, client_factory=chat, **kwargs)
    pool.add(TINY)
    pool.add(OTHER)
    return pool


def test_a_model_loads_once_and_is_warmed_with_the_cold_request_first():
    runtime, chat = FakeRuntime(), FakeChat()
    chat.script["tiny-generic-cpu:1"] = [generation("tiny", ttft_ms=90.0), generation("tiny", ttft_ms=10.0)]
    pool = make_pool(runtime, chat)
    first = pool.acquire("tiny")
    assert pool.acquire("tiny") is first
    assert runtime.loads == ["tiny"]
    assert runtime.started == 1
    # The cold request, then --foundry-model-warmup untimed requests, all at max_tokens.
    assert [r[1] for r in chat.requests] == [16, 16, 16]
    assert first.cold_ttft_s == pytest.approx(0.090)
    assert first.loads == 1


def test_a_load_failure_is_kept_and_told_again_without_a_second_load():
    runtime = FakeRuntime(broken={"tiny": "tiny: genai_config.json missing"})
    pool = make_pool(runtime, FakeChat())
    for _ in range(2):
        with pytest.raises(ModelError, match=r"genai_config\.json missing"):
            pool.acquire("tiny")
    assert pool.models["tiny"].error == "tiny: genai_config.json missing"
    # The other model is unaffected.
    assert pool.acquire("other").serving


def test_a_cold_request_failure_breaks_the_loaded_model_with_the_reason():
    chat = FakeChat(script={"tiny-generic-cpu:1": [ModelError("HTTP 400: KV cache capacity (48) too small")]})
    pool = make_pool(FakeRuntime(), chat)
    with pytest.raises(ModelError, match=r"tiny: cold request after load failed: HTTP 400: KV cache"):
        pool.acquire("tiny")
    model = pool.models["tiny"]
    # It loaded: not a load failure, but broken, and told again at once.
    assert model.error is None
    assert model.broken is not None
    with pytest.raises(ModelError, match="cold request after load failed"):
        pool.acquire("tiny")


def test_the_warm_up_uses_the_short_probe_prompt_not_a_test_prompt():
    sent: list[list[dict[str, str]]] = []

    class Recording(FakeChat):
        def __call__(self, base_url, timeout_s, dialect=DEFAULT_DIALECT):
            client = super().__call__(base_url, timeout_s, dialect)
            original = client.chat

            def chat(model_id, messages, **kwargs):
                sent.append(messages)
                return original(model_id, messages, **kwargs)

            client.chat = chat  # type: ignore[method-assign]
            return client

    pool = ModelPool(lambda: FakeRuntime(), SETTINGS, client_factory=Recording())
    pool.add(TINY)
    pool.acquire("tiny")
    assert sent[0] == PROBE_PROMPT.messages()


def test_after_a_timeout_the_model_s_remaining_requests_fail_at_once():
    chat = FakeChat(
        script={
            "tiny-generic-cpu:1": [generation("tiny")] * 3 + [RequestTimeout("tiny: no answer within 5 s")]
        }
    )
    pool = make_pool(FakeRuntime(), chat)
    model = pool.acquire("tiny")
    with pytest.raises(RequestTimeout):
        pool.request(model, WARM.messages(), 8, 1)
    sent = len(chat.requests)
    with pytest.raises(ModelError, match="later requests to tiny fail at once"):
        pool.request(model, WARM.messages(), 8, 1)
    assert len(chat.requests) == sent  # the circuit breaker sent nothing


def test_a_dead_host_breaks_only_its_model_with_how_it_ended():
    runtime = FakeRuntime()
    chat = FakeChat(
        script={"tiny-generic-cpu:1": [generation("tiny")] * 3 + [ModelError("tiny: connection reset")]}
    )
    pool = make_pool(runtime, chat)
    model = pool.acquire("tiny")
    runtime.dead["tiny"] = "tiny: model host exited with signal 9 (SIGKILL: out of memory?)"
    with pytest.raises(ModelError, match=r"signal 9 \(SIGKILL: out of memory\?\)"):
        pool.request(model, WARM.messages(), 8, 1)
    assert model.detail == "tiny: connection reset"
    assert pool.acquire("other").serving


def test_cpu_time_per_token_comes_from_the_serving_process():
    import os
    import time

    class Busy(FakeChat):
        """Spends 0.2 s of CPU in this process (the stand-in host) on every request."""

        def __call__(self, base_url, timeout_s, dialect=DEFAULT_DIALECT):
            client = super().__call__(base_url, timeout_s, dialect)
            original = client.chat

            def chat(*args, **kwargs):
                end = time.process_time() + 0.2
                while time.process_time() < end:
                    pass
                return original(*args, **kwargs)

            client.chat = chat  # type: ignore[method-assign]
            return client

    runtime = FakeRuntime(pid=os.getpid())  # this process stands in for a model host
    pool = make_pool(runtime, Busy())
    model = pool.acquire("tiny")
    assert model.memory_pid == os.getpid()
    assert model.rss_before_load == 1000  # as the host reported it
    generation_ = pool.request(model, WARM.messages(), 8, 1)
    # 0.2 s over the 5 output tokens of the scripted answer (the test's own work adds a little).
    assert generation_.metrics.cpu_per_token_s is not None
    assert 0.035 <= generation_.metrics.cpu_per_token_s < 0.08
    assert model.peak_rss is not None


def test_release_unloads_and_closes_the_client_and_a_later_acquire_loads_again():
    runtime, chat = FakeRuntime(), FakeChat()
    pool = make_pool(runtime, chat)
    pool.acquire("tiny")
    pool.release("tiny")
    assert runtime.unloads == ["tiny"]
    assert chat.clients[0].closed
    assert not pool.models["tiny"].serving
    with pytest.raises(ModelError, match="not loaded"):
        pool.request(pool.models["tiny"], WARM.messages(), 8, 1)
    assert pool.acquire("tiny").loads == 2


def test_the_judge_is_borrowed_under_its_own_key_and_leaves_the_model_figures_alone():
    runtime, chat = FakeRuntime(), FakeChat()
    chat.script["tiny-generic-cpu:1"] = [generation("tiny", ttft_ms=50.0), generation("tiny", ttft_ms=10.0)]
    pool = make_pool(runtime, chat)
    tested = pool.acquire("tiny")
    pool.release("tiny")
    with pool.borrowed(TINY, "<judge>") as judge:
        assert judge is not tested
        assert judge.serving
    assert not pool.models["<judge>"].serving
    assert tested.cold_ttft_s == pytest.approx(0.050)
    assert tested.loads == 1
    assert runtime.loads == ["tiny", "tiny"]


def test_every_load_and_request_takes_a_turn():
    turns: list[str] = []

    @contextmanager
    def turn():
        turns.append("turn")
        yield

    pool = make_pool(FakeRuntime(), FakeChat(), turn=turn)
    model = pool.acquire("tiny")
    pool.request(model, WARM.messages(), 8, 1)
    # 1 load + 3 warm-up requests + 1 request.
    assert len(turns) == 5


def test_close_unloads_what_is_loaded_and_stops_the_runtime_once():
    runtime = FakeRuntime()
    pool = make_pool(runtime, FakeChat())
    pool.acquire("tiny")
    pool.close()
    pool.close()
    assert runtime.unloads == ["tiny"]
    assert runtime.closed == 1


def test_a_pool_that_loaded_nothing_never_starts_the_runtime():
    runtime = FakeRuntime()
    make_pool(runtime, FakeChat()).close()
    assert runtime.started == runtime.closed == 0
