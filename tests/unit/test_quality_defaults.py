"""The checks and rubrics suggested for the default prompt set are valid and realistic.

quality_data/default_prompts_quality.json holds them per prompt id; good answers a real
small model gives must pass every check, gibberish (the embedded test model) must not.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from pytest_foundry.quality.checks import checks_score, run_checks, validate_checks
from pytest_foundry.quality.judge import validate_rubric

SUGGESTED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "quality_data" / "default_prompts_quality.json").read_text("utf-8")
)

GOOD = {
    "rag_principle": (
        "Retrieval augmented generation (RAG) first retrieves documents relevant to the question "
        "from a knowledge base. The model then generates its answer using those documents as "
        "context, which grounds it in up-to-date facts."
    ),
    "privacy_benefits": (
        "Here are 3 privacy benefits of local inference:\n\n"
        "1. **Data stays on your device**: prompts never leave your machine.\n"
        "2. **No third-party logging**: no cloud provider stores your conversations.\n"
        "3. **Compliance**: sensitive data is easier to keep within regulations."
    ),
    "size_latency": (
        "Larger models have more parameters, so each generated token needs more computation and "
        "more memory bandwidth to read the weights. On consumer hardware with limited RAM and "
        "slower GPUs, this makes responses slower and can force offloading, increasing latency."
    ),
    "slm_scenarios": (
        "1. **On-device assistants**: a phone app that must work offline benefits from an SLM's "
        "small memory footprint.\n"
        "2. **Real-time classification**: routing support tickets at low latency and cost, where "
        "an LLM would be overkill."
    ),
    "summarize_notes": (
        "The team agreed to ship the offline summariser next sprint, with Ana owning the release "
        "checklist and Ben fixing the latency regression. The demo has moved to Friday."
    ),
    "json_extract": (
        '```json\n{"title": "Sprint review", "owners": ["Ana", "Ben"], '
        '"decisions": ["Ship the offline summariser", "Move the demo to Friday"]}\n```'
    ),
}
GIBBERISH = "wq zzt plok 4x ]]; vorn"


def test_every_default_prompt_has_a_suggestion() -> None:
    shipped = json.loads(resources.files("pytest_foundry").joinpath("data/prompts.json").read_text("utf-8"))
    ids = {entry["id"] for entry in shipped["prompts"] if isinstance(entry, dict)}
    assert set(SUGGESTED) == set(GOOD) == ids


@pytest.mark.parametrize("prompt_id", sorted(GOOD))
def test_suggestion_is_valid(prompt_id: str) -> None:
    validate_checks(SUGGESTED[prompt_id]["checks"], prompt_id)
    validate_rubric(SUGGESTED[prompt_id]["rubric"], prompt_id)


@pytest.mark.parametrize("prompt_id", sorted(GOOD))
def test_a_good_answer_passes_every_check(prompt_id: str) -> None:
    results = run_checks(GOOD[prompt_id], SUGGESTED[prompt_id]["checks"])
    assert [result.detail for result in results if not result.passed] == []
    assert checks_score(results) == 1.0


@pytest.mark.parametrize("prompt_id", sorted(GOOD))
def test_gibberish_fails_the_content_checks(prompt_id: str) -> None:
    score = checks_score(run_checks(GIBBERISH, SUGGESTED[prompt_id]["checks"]))
    assert score is not None
    assert score <= 0.5


def test_a_wrong_json_shape_is_told_apart_from_no_json() -> None:
    checks = SUGGESTED["json_extract"]["checks"]
    shape = run_checks('{"title": "Sprint review", "owners": "Ana and Ben"}', checks)
    assert [result.passed for result in shape] == [True, False, False]
