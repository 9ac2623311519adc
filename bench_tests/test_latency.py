"""Latency of every model x prompt, measured with pytest-benchmark.

``foundry_benchmark()`` runs ``--foundry-warmup`` warm-up rounds (kept apart) and then
``--foundry-rounds`` measured rounds, each one streamed request; TTFT, TPOT, decode
tok/s and usage land in the benchmark's extra_info, so --benchmark-json /
--benchmark-autosave / --benchmark-compare work as usual.
"""


def test_latency(foundry_benchmark):
    result = foundry_benchmark()
    assert result.metrics.output_tokens > 0
    assert result.metrics.ttft_s is not None
