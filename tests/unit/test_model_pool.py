"""The model pool with a fake runtime: load once, warm, release, fail once, judge apart."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

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


def test_every_load_and_request_takes_a_turn_timed_only_where_a_figure_is_recorded():
    turns: list[str] = []

    @contextmanager
    def turn(timed):
        turns.append("timed" if timed else "untimed")
        yield

    pool = make_pool(FakeRuntime(), FakeChat(), turn=turn)
    model = pool.acquire("tiny")
    pool.request(model, WARM.messages(), 8, 1)
    pool.request(model, WARM.messages(), 8, 1, timed=False)
    # The load, the cold request (its TTFT is recorded), 2 warm-ups, then the two requests.
    assert turns == ["untimed", "timed", "untimed", "untimed", "timed", "untimed"]


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


def test_a_concurrency_level_is_one_turn_for_all_its_streams():
    turns: list[bool] = []

    @contextmanager
    def turn(timed: bool):
        turns.append(timed)
        yield

    chat = FakeChat()
    pool = make_pool(FakeRuntime(), chat, turn=turn)
    model = pool.acquire("tiny")
    sent_before = len(chat.requests)
    run = pool.request_level(model, WARM.messages(), 8, 1, streams=3, requests=7)
    # 1 load + 3 warm-up requests, then the whole level in one timed turn.
    assert len(turns) == 5
    assert turns[-1] is True
    assert len(chat.requests) - sent_before == 7
    assert len(run.requests) == 7
    assert {request.stream for request in run.requests} <= {0, 1, 2}
    assert all(request.ok and request.output_tokens == 5 for request in run.requests)


def test_a_failed_request_is_counted_and_a_timeout_stops_the_level_and_breaks_the_model():
    chat = FakeChat()
    pool = make_pool(FakeRuntime(), chat)
    model = pool.acquire("tiny")
    chat.script["tiny-generic-cpu:1"] = [ModelError("tiny: HTTP 503 busy"), generation("tiny")]
    run = pool.request_level(model, WARM.messages(), 8, 1, streams=1, requests=3)
    assert [request.error for request in run.requests] == ["tiny: HTTP 503 busy", None, None]
    assert model.broken is None
    chat.script["tiny-generic-cpu:1"] = [RequestTimeout("tiny: no answer within the 5 s timeout")]
    run = pool.request_level(model, WARM.messages(), 8, 1, streams=1, requests=3)
    assert len(run.requests) == 1  # the level stopped at the timeout
    assert model.broken == "tiny: no answer within the 5 s timeout (later requests to tiny fail at once)"
    with pytest.raises(ModelError, match="later requests to tiny fail at once"):
        pool.request_level(model, WARM.messages(), 8, 1, streams=2, requests=4)


def test_every_stream_warms_up_untimed_before_the_level_clock_starts():
    chat = FakeChat()
    pool = make_pool(FakeRuntime(), chat)
    model = pool.acquire("tiny")
    sent_before = len(chat.requests)
    run = pool.request_level(model, WARM.messages(), 8, 1, streams=2, requests=4, warmup=2)
    assert len(chat.requests) - sent_before == 2 * 2 + 4
    assert len(run.requests) == 4
    assert min(request.start_s for request in run.requests) >= 0.0


def test_cold_starts_sample_fresh_loads_and_report_their_medians():
    runtime, chat = FakeRuntime(isolated=True), FakeChat()
    # One cold request per extra load, then the serving load's cold request and warm-ups.
    chat.script["tiny-generic-cpu:1"] = [
        generation("tiny", ttft_ms=300.0),
        generation("tiny", ttft_ms=100.0),
        generation("tiny", ttft_ms=120.0),
        generation("tiny", ttft_ms=10.0),
    ]
    pool = ModelPool(lambda: runtime, replace(SETTINGS, cold_starts=3), WARM, client_factory=chat)
    pool.add(TINY)
    model = pool.acquire("tiny")
    assert runtime.loads == ["tiny"] * 3
    assert runtime.unloads == ["tiny"] * 2  # the extra hosts end; the last one serves
    assert model.serving
    assert model.loads == 1  # a model still serves from one load per session
    # 2 extra loads x 1 cold request, then 1 cold + 2 warm-up requests on the serving load.
    assert len(chat.requests) == 2 + 1 + 2
    assert [round(s.cold_ttft_s * 1000) for s in model.cold_starts] == [300, 100, 120]
    assert model.cold_ttft_s == pytest.approx(0.120)  # the median, not the 300 ms outlier
    assert model.load_s == pytest.approx(0.25)
    # A reload later adds its own sample, not another round of extra loads.
    pool.release("tiny")
    pool.acquire("tiny")
    assert len(runtime.loads) == 4
    assert len(model.cold_starts) == 4


def test_cold_starts_are_one_where_a_reload_is_no_fresh_process():
    runtime, chat = FakeRuntime(isolated=False), FakeChat()
    pool = ModelPool(lambda: runtime, replace(SETTINGS, cold_starts=3), WARM, client_factory=chat)
    pool.add(TINY)
    assert len(pool.acquire("tiny").cold_starts) == 1
    assert runtime.loads == ["tiny"]


def test_a_failing_extra_cold_start_is_the_model_s_failure():
    runtime = FakeRuntime(isolated=True)
    chat = FakeChat(script={"tiny-generic-cpu:1": [ModelError("HTTP 500: out of memory")]})
    pool = ModelPool(lambda: runtime, replace(SETTINGS, cold_starts=3), WARM, client_factory=chat)
    pool.add(TINY)
    with pytest.raises(ModelError, match="tiny: cold request after load failed: HTTP 500"):
        pool.acquire("tiny")
    assert runtime.loads == ["tiny"]  # no further loads after the failure
    with pytest.raises(ModelError, match="cold request after load failed"):
        pool.acquire("tiny")
