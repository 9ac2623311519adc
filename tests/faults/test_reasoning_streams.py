"""A reasoning model's stream, in both documented shapes: time to the first *answer*
token next to TTFT, and reasoning tokens counted apart."""

from __future__ import annotations

from misbehaving_server import COMPLETION_TOKENS, REASONING_TOKENS, MisbehavingServer
from test_stream_faults import TEXT, ask


def test_reasoning_in_its_own_delta_field_is_timed_and_counted_apart(misbehaving: MisbehavingServer):
    misbehaving.mode = "reasoning_delta"
    generation = ask(misbehaving)
    metrics = generation.metrics
    # The thinking is not the answer: the text holds only what the model answered.
    assert generation.text == TEXT
    assert metrics.reasoning_tokens == REASONING_TOKENS  # usage.completion_tokens_details
    assert metrics.output_tokens == COMPLETION_TOKENS + REASONING_TOKENS
    assert metrics.ttft_s is not None
    assert metrics.ttfa_s is not None
    # TTFT is the first thought; the answer starts after ~60 ms of thinking.
    assert metrics.ttfa_s - metrics.ttft_s >= 0.04


def test_think_tags_split_across_chunks_are_found(misbehaving: MisbehavingServer):
    misbehaving.mode = "think_tags"
    generation = ask(misbehaving)
    metrics = generation.metrics
    assert generation.text == "<think>Let me think</think>\nHello"
    assert metrics.ttft_s is not None
    assert metrics.ttfa_s is not None
    assert metrics.ttfa_s - metrics.ttft_s >= 0.015
    # No count from the server: estimated from the thinking's text.
    assert metrics.reasoning_tokens == 7  # "<think>Let me think</think>": 27 characters / 4


def test_an_answer_without_reasoning_has_ttfa_equal_to_ttft(misbehaving: MisbehavingServer):
    misbehaving.mode = "foundry"
    metrics = ask(misbehaving).metrics
    assert metrics.ttfa_s == metrics.ttft_s
    assert metrics.reasoning_tokens is None
