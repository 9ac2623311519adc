"""prompts.schema.json and validate_checks: bad prompt sets fail at load time, in one line."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_foundry.errors import ConfigError
from pytest_foundry.quality.checks import validate_checks
from pytest_foundry.quality.judge import validate_rubric

DATA = Path(__file__).parent / "quality_data"
WHERE = "prompts.json: prompts[2] (id=summarize_rag)"


def shipped(name: str) -> Any:
    text = resources.files("pytest_foundry").joinpath(name).read_text("utf-8")
    return json.loads(text)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(shipped("schemas/prompts.schema.json"))


def first_error(validator: jsonschema.Draft202012Validator, data: Any) -> str | None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return None
    return f"{'/'.join(map(str, error.absolute_path))}: {error.message}"


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = shipped("schemas/prompts.schema.json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_default_prompt_set_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    data = shipped("data/prompts.json")
    assert first_error(validator, data) is None
    for index, entry in enumerate(data["prompts"]):
        if isinstance(entry, dict) and "checks" in entry:
            validate_checks(entry["checks"], f"default: prompts[{index}]")


def test_every_check_type_is_accepted(validator: jsonschema.Draft202012Validator) -> None:
    data = json.loads((DATA / "prompts_all_checks.json").read_text("utf-8"))
    assert first_error(validator, data) is None
    for entry in data["prompts"][1:]:
        validate_checks(entry["checks"], "all")
    assert first_error(validator, data["prompts"]) is None  # a bare list works too


def entry(**extra: Any) -> dict[str, Any]:
    return {"prompts": [{"id": "p1", "prompt": "Say hi.", **extra}]}


def check(**fields: Any) -> dict[str, Any]:
    return entry(checks=[fields])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"prompts": [{"prompt": "no id"}]}, "prompts/0: 'id' is a required property"),
        (entry(id="has space"), "prompts/0/id: 'has space' does not match"),
        (entry(prompt=""), "prompts/0/prompt: '' should be non-empty"),
        (entry(max_tokens=0), "prompts/0/max_tokens: 0 is less than the minimum of 1"),
        (entry(color="red"), "prompts/0: Additional properties are not allowed ('color' was unexpected)"),
        (entry(rubric=["a", "a"]), "prompts/0/rubric: ['a', 'a'] has non-unique elements"),
        ({"prompts": [""]}, "prompts/0: '' should be non-empty"),
        ({"prompt": []}, ": 'prompts' is a required property"),
        ("prompts", ": 'prompts' is not of type 'object', 'array'"),
        ([3], "0: 3 is not of type 'string', 'object'"),
        ({"prompts": [{"id": "a", "prompt": "x"}], "extra": 1}, "('extra' was unexpected)"),
        (check(value="x"), "prompts/0/checks/0: 'type' is a required property"),
        (check(type="sentiment"), "prompts/0/checks/0/type: 'sentiment' is not one of"),
        (check(type="contains"), "prompts/0/checks/0: 'value' is a required property"),
        (check(type="contains", value=""), "prompts/0/checks/0/value: '' should be non-empty"),
        (
            check(type="contains", value="x", case_sensitive="yes"),
            "case_sensitive: 'yes' is not of type 'boolean'",
        ),
        (check(type="contains", value="x", pattern="y"), "('pattern' was unexpected)"),
        (check(type="regex"), "prompts/0/checks/0: 'pattern' is a required property"),
        (check(type="regex", pattern="a", flags="x"), "prompts/0/checks/0/flags: 'x' does not match"),
        (check(type="json", schema=3), "prompts/0/checks/0/schema: 3 is not of type 'object', 'boolean'"),
        (check(type="max_words", value=-1), "prompts/0/checks/0/value: -1 is less than the minimum of 0"),
        (check(type="min_words", value=2.5), "prompts/0/checks/0/value: 2.5 is not of type 'integer'"),
        (check(type="one_of", values=[]), "prompts/0/checks/0/values: [] should be non-empty"),
        (check(type="one_of", value="x"), "prompts/0/checks/0: 'values' is a required property"),
        (entry(checks=["contains"]), "prompts/0/checks/0: 'contains' is not of type 'object'"),
    ],
)
def test_bad_prompt_sets_are_rejected(
    validator: jsonschema.Draft202012Validator, data: Any, expected: str
) -> None:
    error = first_error(validator, data)
    assert error is not None
    assert expected in error


# --------------------------------------------------------------------- validate_checks


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        (
            [{"type": "contains", "value": "x"}, {"type": "regex", "pattern": "([a-z]+"}],
            f"{WHERE}: checks[1]: regex '([a-z]+' does not compile: missing ), unterminated subpattern",
        ),
        (
            [{"type": "json", "schema": {"type": "objekt"}}],
            f"{WHERE}: checks[0].schema.type: not a valid JSON Schema:",
        ),
        (
            [{"type": "json", "schema": {"required": "title"}}],
            f"{WHERE}: checks[0].schema.required: not a valid JSON Schema: 'title' is not of type 'array'",
        ),
        ([{"type": "contains"}], f"{WHERE}: checks[0]: 'value' is a required property"),
        ([{"type": "regex", "pattern": "a", "flags": "q"}], f"{WHERE}: checks[0].flags: 'q' does not match"),
        ({"type": "contains"}, f"{WHERE}: checks must be a list of check objects"),
    ],
)
def test_validate_checks_errors_are_one_line_and_name_the_entry(checks: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_checks(checks, WHERE)
    message = str(info.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_validate_checks_honours_the_schema_draft_it_names() -> None:
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "items": [{}]}
    validate_checks([{"type": "json", "schema": draft7}], WHERE)  # tuple items are valid draft 7
    with pytest.raises(ConfigError, match="not a valid JSON Schema"):
        validate_checks([{"type": "json", "schema": {**draft7, "$schema": None, "items": [1]}}], WHERE)


def test_validate_checks_accepts_valid_checks() -> None:
    validate_checks([], WHERE)
    validate_checks(
        [
            {"type": "regex", "pattern": r"\bRAG\b", "flags": "ims"},
            {"type": "json", "schema": {"type": "object"}},
            {"type": "json", "schema": True},
        ],
        WHERE,
    )


def test_bad_regex_file_fails_at_load_naming_the_entry() -> None:
    """Through the prompt loader: schema first, then validate_checks, one line."""
    from pytest_foundry.prompts import load_prompts

    path = DATA / "prompts_bad_regex.json"
    with pytest.raises(ConfigError) as info:
        load_prompts(path)
    message = str(info.value)
    assert message.startswith(f"{path}: prompts[1] (id=summarize_rag): checks[0]: regex '([a-z]+'")
    assert "\n" not in message


def test_validate_rubric() -> None:
    validate_rubric(["accuracy", "brevity: two sentences at most"], WHERE)
    with pytest.raises(ConfigError, match=r"rubric: aspect 'accuracy' appears twice"):
        validate_rubric(["accuracy", "accuracy: factual"], WHERE)
    with pytest.raises(ConfigError, match="rubric must be a list of non-empty strings"):
        validate_rubric(["ok", " "], WHERE)
