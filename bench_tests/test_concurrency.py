"""Throughput and latency as concurrent streams grow, over --foundry-concurrency levels.

Each level keeps N streams in flight until its requests are spent; the report plots
system tok/s and latency against N and says when the runtime serialises requests.
"""


def test_concurrency(foundry_concurrency):
    level = foundry_concurrency()
    assert level.errors == 0, level.first_error
    assert level.output_tokens > 0
