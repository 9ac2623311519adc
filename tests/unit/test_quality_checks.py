"""Deterministic output checks: every type passes and fails where it should."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_foundry.quality import evaluate_output
from pytest_foundry.quality.annotations import AnnotationEntry, Annotations, output_sha256
from pytest_foundry.quality.checks import (
    CheckResult,
    checks_record,
    checks_score,
    count_words,
    run_check,
    run_checks,
)
from pytest_foundry.quality.json_text import extract_json, find_json_object


def passed(text: str, check: dict[str, Any]) -> bool:
    return run_check(text, check).passed


# ---------------------------------------------------------------- contains / not_contains


def test_contains_is_case_insensitive_by_default() -> None:
    result = run_check("Local inference keeps PRIVACY intact.", {"type": "contains", "value": "privacy"})
    assert result.passed
    assert result.name == "contains 'privacy'"
    assert result.type == "contains"
    assert result.detail == "found 'privacy'"


def test_contains_fails_with_missing_detail() -> None:
    result = run_check("It is fast.", {"type": "contains", "value": "privacy"})
    assert not result.passed
    assert result.detail == "missing 'privacy'"


def test_contains_case_sensitive_option() -> None:
    check = {"type": "contains", "value": "RAG", "case_sensitive": True}
    assert passed("RAG retrieves documents", check)
    assert not passed("rag retrieves documents", check)


def test_not_contains() -> None:
    check = {"type": "not_contains", "value": "As an AI"}
    assert passed("Retrieval grounds the answer.", check)
    result = run_check("as an ai language model, I", check)
    assert not result.passed
    assert result.detail == "found forbidden 'As an AI'"
    assert not passed("as an AI", {**check, "case_sensitive": False})
    assert passed("as an ai", {**check, "case_sensitive": True})


def test_casefold_matches_beyond_ascii() -> None:
    assert passed("STRASSE", {"type": "contains", "value": "straße"})


# --------------------------------------------------------------------------------- regex


def test_regex_search_anywhere() -> None:
    result = run_check("Answer: 42 tokens", {"type": "regex", "pattern": r"\d+ tokens"})
    assert result.passed
    assert result.detail == "matched '42 tokens'"
    assert result.name == r"regex /\d+ tokens/"


def test_regex_fails_without_match() -> None:
    result = run_check("no digits", {"type": "regex", "pattern": r"\d"})
    assert not result.passed
    assert result.detail == r"no match for /\d/"


def test_regex_flag_i() -> None:
    assert not passed("Privacy", {"type": "regex", "pattern": "^privacy$"})
    assert passed("Privacy", {"type": "regex", "pattern": "^privacy$", "flags": "i"})


def test_regex_flag_m() -> None:
    text = "intro\n1. first\n2. second"
    assert not passed(text, {"type": "regex", "pattern": r"^2\."})
    assert passed(text, {"type": "regex", "pattern": r"^2\.", "flags": "m"})


def test_regex_flag_s_and_combination() -> None:
    text = "Start\nmiddle\nEND"
    assert not passed(text, {"type": "regex", "pattern": "start.*end", "flags": "i"})
    assert passed(text, {"type": "regex", "pattern": "start.*end", "flags": "is"})
    assert passed(text, {"type": "regex", "pattern": "^middle$.*END", "flags": "ms"})


def test_regex_that_does_not_compile_fails_the_check_not_the_run() -> None:
    result = run_check("text", {"type": "regex", "pattern": "("})
    assert not result.passed
    assert result.detail.startswith("check could not run: error:")


# ---------------------------------------------------------------------------------- json


def test_json_parses() -> None:
    result = run_check('{"title": "Sprint review"}', {"type": "json"})
    assert result.passed
    assert result.name == "json"


def test_json_fails_on_prose() -> None:
    result = run_check("Sure! The title is Sprint review.", {"type": "json"})
    assert not result.passed
    assert result.detail.startswith("not JSON: Expecting value")


def test_json_tolerates_a_fenced_block_with_prose_around() -> None:
    text = 'Here you go:\n```json\n{"owners": ["Ana", "Ben"]}\n```\nAnything else?'
    assert passed(text, {"type": "json"})
    assert passed("```\n[1, 2]\n```", {"type": "json"})


def test_json_prose_around_an_unfenced_object_fails() -> None:
    # The check tests "return only JSON"; only a fence is tolerated as wrapping.
    assert not passed('The JSON is {"a": 1} as requested.', {"type": "json"})


SCHEMA = {
    "type": "object",
    "required": ["title", "owners", "decisions"],
    "properties": {
        "title": {"type": "string"},
        "owners": {"type": "array", "items": {"type": "string"}},
        "decisions": {"type": "array"},
    },
}


def test_json_schema_pass() -> None:
    text = '{"title": "Sprint review", "owners": ["Ana", "Ben"], "decisions": ["ship"]}'
    result = run_check(text, {"type": "json", "schema": SCHEMA})
    assert result.passed
    assert result.name == "json (schema)"
    assert result.detail == "valid JSON, matches schema"


def test_json_schema_fail_names_the_path() -> None:
    text = '```json\n{"title": "Sprint review", "owners": "Ana", "decisions": []}\n```'
    result = run_check(text, {"type": "json", "schema": SCHEMA})
    assert not result.passed
    assert result.detail == "schema: $.owners: 'Ana' is not of type 'array'"


def test_json_schema_missing_key() -> None:
    result = run_check('{"title": "x", "owners": []}', {"type": "json", "schema": SCHEMA})
    assert not result.passed
    assert "'decisions' is a required property" in result.detail


def test_extract_json_and_find_json_object() -> None:
    assert extract_json(" [1] ") == [1]
    with pytest.raises(ValueError, match="Expecting value"):
        extract_json("nope")
    assert find_json_object('I think: {"a": {"b": 1}} done') == {"a": {"b": 1}}
    with pytest.raises(ValueError, match="2 JSON objects"):
        find_json_object('{"a": 1} or {"a": 2}')
    with pytest.raises(ValueError, match="no JSON object"):
        find_json_object("{{{ ]] nonsense")
    with pytest.raises(ValueError, match="got a JSON array"):
        find_json_object("[1, 2]")


# --------------------------------------------------------------------------- word counts


def test_count_words() -> None:
    assert count_words("  one two\nthree\tfour  ") == 4
    assert count_words("") == 0


def test_max_words() -> None:
    check = {"type": "max_words", "value": 3}
    assert passed("one two three", check)
    result = run_check("one two three four", check)
    assert not result.passed
    assert result.detail == "4 words (max 3)"
    assert result.name == "max_words 3"


def test_min_words() -> None:
    check = {"type": "min_words", "value": 3}
    assert passed("one two three", check)
    result = run_check("one two", check)
    assert not result.passed
    assert result.detail == "2 words (min 3)"


def test_zero_word_limits() -> None:
    assert passed("", {"type": "max_words", "value": 0})
    assert not passed("word", {"type": "max_words", "value": 0})
    assert passed("", {"type": "min_words", "value": 0})


# -------------------------------------------------------------------------------- one_of


def test_one_of_equals_a_value_case_insensitive() -> None:
    check = {"type": "one_of", "values": ["positive", "negative", "neutral"]}
    result = run_check("  Positive\n", check)
    assert result.passed
    assert result.detail == "answered 'positive'"


def test_one_of_trims_quotes_and_final_punctuation() -> None:
    check = {"type": "one_of", "values": ["yes", "no"]}
    assert passed('"Yes."', check)
    assert passed("**no**", check)


def test_one_of_does_not_accept_containment() -> None:
    check = {"type": "one_of", "values": ["yes", "no"]}
    result = run_check("yes and no", check)
    assert not result.passed
    assert result.detail == "'yes and no' is not one of 'yes', 'no'"


def test_one_of_case_sensitive() -> None:
    check = {"type": "one_of", "values": ["SLM", "LLM"], "case_sensitive": True}
    assert passed("SLM", check)
    assert not passed("slm", check)


# ------------------------------------------------------------------- names, score, record


def test_custom_name_is_used() -> None:
    result = run_check("x", {"type": "contains", "value": "x", "name": "mentions x"})
    assert result.name == "mentions x"


def test_unknown_type_fails_and_never_raises() -> None:
    result = run_check("x", {"type": "sentiment"})
    assert result == CheckResult("sentiment", "sentiment", False, "unknown check type 'sentiment'")
    assert not run_check("x", {"type": "contains"}).passed  # malformed: no value


def test_long_details_stay_on_one_short_line() -> None:
    result = run_check("word " * 500, {"type": "one_of", "values": ["a"]})
    assert "\n" not in result.detail
    assert len(result.detail) <= 160


def test_run_checks_score_and_record() -> None:
    checks = [
        {"type": "contains", "value": "privacy"},
        {"type": "max_words", "value": 5},
        {"type": "regex", "pattern": "data"},
    ]
    results = run_checks("Privacy: your data stays on the device.", checks)
    assert [result.passed for result in results] == [True, False, True]
    assert checks_score(results) == pytest.approx(2 / 3)
    assert checks_record(results)[1] == {
        "name": "max_words 5",
        "type": "max_words",
        "passed": False,
        "detail": "7 words (max 5)",
    }


def test_checks_score_none_without_checks() -> None:
    assert checks_score([]) is None
    assert checks_score(run_checks("x", [{"type": "contains", "value": "y"}])) == 0.0


def test_evaluate_output_fills_checks_and_annotation() -> None:
    text = "Data never leaves the laptop."
    sha = output_sha256(text)
    annotations = Annotations("a.json", (AnnotationEntry("phi", "privacy_benefits", sha, 4, "good"),))
    record = evaluate_output(
        text,
        [{"type": "contains", "value": "privacy"}],
        model="phi",
        prompt="privacy_benefits",
        sha256=sha,
        annotations=annotations,
    )
    assert record["checks_score"] == 0.0
    assert record["checks"][0]["detail"] == "missing 'privacy'"
    assert record["annotation"] == {"score": 4, "stale": False, "note": "good", "scored_sha256": sha}
    assert record["judge"] is None
    bare = evaluate_output(text, [], model="phi", prompt="p", sha256=sha)
    assert bare["checks"] == []
    assert bare["checks_score"] is None
    assert bare["annotation"] is None
