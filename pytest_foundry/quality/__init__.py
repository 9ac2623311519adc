"""The quality rubric: deterministic checks, human annotations and a judge model.

Pure: no pytest.  :func:`evaluate_output` fills the parts of a ``QualityRecord`` that
need no model (checks and annotation); the plugin adds ``judge`` from
:func:`~pytest_foundry.quality.judge.aggregate_judgements` after running the judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pytest_foundry.quality.annotations import Annotations, lookup
from pytest_foundry.quality.checks import checks_record, checks_score, run_checks
from pytest_foundry.results import QualityRecord

__all__ = ["evaluate_output"]


def evaluate_output(
    text: str,
    checks: Iterable[Mapping[str, Any]],
    *,
    model: str,
    prompt: str,
    sha256: str,
    annotations: Annotations | None = None,
) -> QualityRecord:
    """Checks and annotation of one model x prompt output.

    ``annotation`` is None when no annotations file is in use, ``judge`` None until the
    plugin fills it.
    """
    results = run_checks(text, checks)
    return {
        "checks": checks_record(results),
        "checks_score": checks_score(results),
        "annotation": dict(lookup(annotations, model, prompt, sha256)) if annotations is not None else None,
        "judge": None,
    }
