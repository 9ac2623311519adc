"""Deterministic (temperature 0) outputs, kept as reviewable text snapshots.

One file per model x prompt under snapshots/<model>/<prompt>.txt; refresh them with
``pytest bench_tests --snapshot-update`` and review the diff in the pull request.
"""


def test_output(foundry_generate, foundry_prompt, foundry_snapshot):
    assert foundry_generate(foundry_prompt, temperature=0.0) == foundry_snapshot
