"""Latency of every model x prompt, measured with pytest-benchmark.

Each round is one streamed request; TTFT, TPOT, decode tok/s and usage land in the
benchmark's extra_info, so --benchmark-json / --benchmark-autosave / --benchmark-compare
work as usual.
"""


def test_latency(benchmark, foundry_generate, foundry_prompt, foundry_settings):
    result = benchmark.pedantic(
        foundry_generate,
        args=(foundry_prompt,),
        rounds=foundry_settings.rounds,
        warmup_rounds=foundry_settings.warmup,
        iterations=1,
    )
    assert result.metrics.output_tokens > 0
    assert result.metrics.ttft_s is not None
