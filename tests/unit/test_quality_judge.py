"""The judge's prompt, strict answer parsing and aggregation over repeats (no model)."""

from __future__ import annotations

import json

import pytest

from pytest_foundry.quality.judge import (
    DEFAULT_RUBRIC,
    DISAGREEMENT_SPREAD,
    Aspect,
    JudgeError,
    JudgeVerdict,
    aggregate_judgements,
    build_judge_messages,
    parse_judge_response,
    response_schema,
    rubric_aspects,
)

RUBRIC = ["accuracy: the explanation is factually correct", "brevity"]


def answer(scores: object, rationale: object = "Fine.") -> str:
    return json.dumps({"scores": scores, "rationale": rationale})


def reason(text: str, rubric: list[str] = RUBRIC) -> str:
    result = parse_judge_response(text, rubric)
    assert isinstance(result, JudgeError), result
    assert "\n" not in result.reason
    return result.reason


# -------------------------------------------------------------------------- rubric, prompt


def test_rubric_aspects_keys_and_descriptions() -> None:
    assert rubric_aspects(RUBRIC) == [
        Aspect("accuracy", "the explanation is factually correct"),
        Aspect("brevity", "brevity"),
    ]
    # Not a "key: description" form (spaces before the colon): the whole text is the key.
    assert rubric_aspects(["mentions two scenarios"]) == [
        Aspect("mentions two scenarios", "mentions two scenarios")
    ]
    assert [aspect.key for aspect in rubric_aspects([])] == ["overall"]
    assert rubric_aspects([]) == rubric_aspects(DEFAULT_RUBRIC)


def test_build_judge_messages() -> None:
    messages = build_judge_messages("Explain RAG.", "RAG retrieves then generates.", RUBRIC)
    assert [message["role"] for message in messages] == ["system", "user"]
    assert "ONLY one JSON object" in messages[0]["content"]
    user = messages[1]["content"]
    assert "<PROMPT>\nExplain RAG.\n</PROMPT>" in user
    assert "<RESPONSE>\nRAG retrieves then generates.\n</RESPONSE>" in user
    assert "- accuracy: the explanation is factually correct\n- brevity\n" in user
    assert user.endswith(
        '{"scores": {"accuracy": <integer 1-5>, "brevity": <integer 1-5>}, "rationale": "<one sentence>"}'
    )


def test_build_judge_messages_default_rubric() -> None:
    user = build_judge_messages("p", "o", [])[1]["content"]
    assert '"overall": <integer 1-5>' in user


def test_response_schema_lists_the_keys() -> None:
    schema = response_schema(RUBRIC)
    assert schema["properties"]["scores"]["required"] == ["accuracy", "brevity"]
    assert schema["properties"]["scores"]["additionalProperties"] is False


# --------------------------------------------------------------------------------- parsing


def test_parse_valid() -> None:
    result = parse_judge_response(answer({"accuracy": 4, "brevity": 5}, "Correct and\nshort."), RUBRIC)
    assert result == JudgeVerdict({"accuracy": 4, "brevity": 5}, "Correct and short.")
    assert isinstance(result, JudgeVerdict)
    assert result.mean == 4.5


def test_parse_fenced_and_surrounded_by_prose() -> None:
    fenced = "Here is my grading:\n```json\n" + answer({"accuracy": 3, "brevity": 2}) + "\n```\nThanks."
    assert parse_judge_response(fenced, RUBRIC) == JudgeVerdict({"accuracy": 3, "brevity": 2}, "Fine.")
    prose = "Sure. " + answer({"accuracy": 1, "brevity": 1}) + " Hope that helps!"
    assert parse_judge_response(prose, RUBRIC) == JudgeVerdict({"accuracy": 1, "brevity": 1}, "Fine.")


def test_parse_integral_float_counts_as_int() -> None:
    result = parse_judge_response(answer({"accuracy": 4.0, "brevity": 5}), RUBRIC)
    assert isinstance(result, JudgeVerdict)
    assert result.scores == {"accuracy": 4, "brevity": 5}
    assert isinstance(result.scores["accuracy"], int)


def test_parse_invalid_json_gibberish() -> None:
    # What the embedded random-weight model answers.
    assert (
        reason("qz]]x lorem {{ ipsum ::: 0x9f")
        == "no JSON object in the response (starts 'qz]]x lorem {{ ipsum ::: 0x9f')"
    )
    assert reason("").startswith("no JSON object in the response")


def test_parse_two_objects_is_ambiguous() -> None:
    text = (
        answer({"accuracy": 5, "brevity": 5}) + "\nOn reflection:\n" + answer({"accuracy": 2, "brevity": 2})
    )
    assert reason(text).startswith("2 JSON objects in the response, expected exactly one")


def test_parse_not_an_object() -> None:
    assert reason("[4, 5]").startswith("expected a JSON object, got a JSON array")


def test_parse_out_of_range() -> None:
    assert (
        reason(answer({"accuracy": 6, "brevity": 5})) == "scores.accuracy: 6 is greater than the maximum of 5"
    )
    assert reason(answer({"accuracy": 0, "brevity": 5})) == "scores.accuracy: 0 is less than the minimum of 1"


def test_parse_missing_aspect() -> None:
    assert reason(answer({"accuracy": 4})) == "scores: 'brevity' is a required property"


def test_parse_extra_aspect() -> None:
    text = answer({"accuracy": 4, "brevity": 4, "tone": 3})
    assert reason(text) == "scores: Additional properties are not allowed ('tone' was unexpected)"


def test_parse_non_int() -> None:
    assert reason(answer({"accuracy": 3.5, "brevity": 4})) == "scores.accuracy: 3.5 is not of type 'integer'"
    assert reason(answer({"accuracy": "4", "brevity": 4})) == "scores.accuracy: '4' is not of type 'integer'"
    assert (
        reason(answer({"accuracy": True, "brevity": 4})) == "scores.accuracy: True is not of type 'integer'"
    )


def test_parse_shape_errors() -> None:
    assert reason(json.dumps({"scores": {"accuracy": 4, "brevity": 4}})) == (
        "<answer>: 'rationale' is a required property"
    )
    assert (
        reason(answer({"accuracy": 4, "brevity": 4}, rationale=3)) == "rationale: 3 is not of type 'string'"
    )
    assert reason(answer([4, 4])) == "scores: [4, 4] is not of type 'object'"


def test_parse_uses_full_text_keys_for_plain_aspects() -> None:
    rubric = ["mentions two scenarios"]
    result = parse_judge_response(answer({"mentions two scenarios": 2}), rubric)
    assert result == JudgeVerdict({"mentions two scenarios": 2}, "Fine.")


def test_long_reasons_are_bounded() -> None:
    assert len(reason("x" * 5000)) <= 200


# ----------------------------------------------------------------------------- aggregation


def verdict(accuracy: int, brevity: int) -> JudgeVerdict:
    return JudgeVerdict({"accuracy": accuracy, "brevity": brevity}, f"{accuracy}/{brevity}")


def test_aggregate_one_repeat() -> None:
    record = aggregate_judgements([verdict(4, 3)])
    assert record == {
        "mean": 3.5,
        "median": 3.5,
        "spread": 0,
        "disagreement": False,
        "aspects": {"accuracy": 4.0, "brevity": 3.0},
        "aspect_scores": {"accuracy": [4], "brevity": [3]},
        "repeats": 1,
        "valid": 1,
        "errors": 0,
        "error": None,
        "rationales": ["4/3"],
    }


def test_aggregate_repeats_agreeing() -> None:
    record = aggregate_judgements([verdict(4, 3), verdict(5, 3), verdict(4, 4)])
    assert record["mean"] == pytest.approx((4 + 3 + 5 + 3 + 4 + 4) / 6)
    assert record["median"] == 4.0  # of the repeat means 3.5, 4.0, 4.0
    assert record["spread"] == 1
    assert record["disagreement"] is False
    assert record["aspects"] == {"accuracy": pytest.approx(13 / 3), "brevity": pytest.approx(10 / 3)}
    assert record["aspect_scores"] == {"accuracy": [4, 5, 4], "brevity": [3, 3, 4]}
    assert record["repeats"] == 3


def test_aggregate_disagreement_is_per_aspect_across_repeats() -> None:
    # Aspects differing within one repeat is not disagreement...
    assert aggregate_judgements([verdict(5, 1), verdict(5, 1)])["disagreement"] is False
    # ...two repeats two points apart on one aspect is.
    record = aggregate_judgements([verdict(5, 3), verdict(3, 3)])
    assert record["spread"] == DISAGREEMENT_SPREAD == 2
    assert record["disagreement"] is True


def test_aggregate_with_some_errors() -> None:
    record = aggregate_judgements(
        [JudgeError("no JSON object in the response"), verdict(2, 4), JudgeError("x")]
    )
    assert record["mean"] == 3.0
    assert (record["repeats"], record["valid"], record["errors"]) == (3, 1, 2)
    assert record["error"] == "no JSON object in the response"


def test_aggregate_all_errors() -> None:
    record = aggregate_judgements([JudgeError("first"), JudgeError("second")])
    assert record["mean"] is None
    assert record["median"] is None
    assert record["spread"] is None
    assert record["disagreement"] is False
    assert record["aspects"] == {}
    assert (record["repeats"], record["valid"], record["errors"], record["error"]) == (2, 0, 2, "first")


def test_aggregate_nothing_and_hand_built_verdicts_never_crash() -> None:
    assert aggregate_judgements([])["repeats"] == 0
    record = aggregate_judgements(
        [JudgeVerdict({}, ""), JudgeVerdict({"a": 2}, ""), JudgeVerdict({"b": 4}, "")]
    )
    assert record["aspects"] == {"a": 2.0, "b": 4.0}
    assert record["spread"] == 0


def test_end_to_end_with_gibberish_judge() -> None:
    """The embedded test model as judge: every repeat is an error, the cell still aggregates."""
    rubric = ["accuracy"]
    results = [parse_judge_response(text, rubric) for text in ("a1 b2 c3", "}{ ::", "zzz")]
    record = aggregate_judgements(results)
    assert record["errors"] == 3
    assert record["mean"] is None
    assert record["error"].startswith("no JSON object")
