"""Which models a CI shard measures (``--foundry-shard=K/N``).

Pure: no pytest.  Each shard measures whole models, so one machine gives each model's
every figure (load, cold start, memory, rounds) and the shards merge without mixing a
model's samples across machines.  The assignment is stable: the model slugs sorted (by
their text), then dealt round-robin, the first to shard 1, the second to shard 2, ...  The
same ``--foundry-models`` always gives the same split, on any machine, whatever order the
models were named in; adding a model moves at most the models sorted after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_foundry.errors import ConfigError


def shard_slugs(slugs: Sequence[str], index: int, count: int) -> tuple[str, ...]:
    """The slugs shard ``index`` of ``count`` (1-based) measures, in the order given.

    Raises ConfigError when there are fewer models than shards: a shard with no model
    would measure nothing, and its job would look like a lost shard in the merge.
    """
    if count > len(slugs):
        raise ConfigError(
            f"--foundry-shard={index}/{count}: only {len(slugs)} model(s) to share out; "
            f"use at most {len(slugs)} shards"
        )
    ordered = sorted(slugs)
    mine = {slug for position, slug in enumerate(ordered) if position % count == index - 1}
    return tuple(slug for slug in slugs if slug in mine)
