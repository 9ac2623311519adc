"""Snapshot comparison modes, the mode in the header, and the first differing token."""

from __future__ import annotations

import pytest
from fake_runtime import generation

from pytest_foundry.errors import ConfigError
from pytest_foundry.snapshot_compare import (
    CompareMode,
    first_difference,
    normalise,
    parse_mode,
    same,
    without_reasoning,
)
from pytest_foundry.snapshots import make_extension, render_snapshot, split_snapshot


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("exact", CompareMode()),
        ("whitespace", CompareMode("whitespace")),
        ("no_reasoning", CompareMode("no_reasoning")),
        ("first_tokens:12", CompareMode("first_tokens", 12)),
    ],
)
def test_modes_parse_and_print_back(text, mode):
    assert parse_mode(text, "x") == mode
    assert str(mode) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("fuzzy", "expected one of"),
        ("first_tokens", "first_tokens:N"),
        ("first_tokens:0", "N >= 1"),
        ("exact:3", "no ':N'"),
    ],
)
def test_a_bad_mode_is_one_line_naming_where(text, reason):
    with pytest.raises(ConfigError, match=rf"^prompts\.json: prompts\[0\]: snapshot comparison .*{reason}"):
        parse_mode(text, "prompts.json: prompts[0]")


def test_whitespace_mode_forgives_reflowed_text_only():
    mode = parse_mode("whitespace", "x")
    assert same("Paris is\n  the capital.\n", "Paris is the capital.", mode)
    assert not same("Paris is the capital.", "Lyon is the capital.", mode)


def test_no_reasoning_mode_leaves_thinking_out():
    mode = parse_mode("no_reasoning", "x")
    assert same("<think>first idea</think>\nParis.", "<think>another path\nentirely</think>Paris.", mode)
    assert not same("<think>x</think>Paris.", "<think>x</think>Lyon.", mode)
    # A thinking block cut off by max_tokens has no end tag: the rest is thinking.
    assert without_reasoning("Answer. <think>never closed") == "Answer. "


def test_first_tokens_mode_compares_the_start_only():
    mode = parse_mode("first_tokens:3", "x")
    assert normalise("one two three four five", mode) == "one two three"
    assert same("one two three four", "one  two three, then drift", mode) is False
    assert same("one two three four", "one two three then drift", mode)


def test_the_first_differing_token_is_named():
    assert first_difference("The capital is Paris.", "The capital is Lyon.") == (
        "first difference at token 4: 'Paris.' in the snapshot, 'Lyon.' now"
    )
    assert first_difference("a b", "a b c") == "the snapshot ends after token 2; the output goes on with 'c'"
    assert first_difference("a b c", "a b") == "the output ends after token 2; the snapshot goes on with 'c'"
    assert first_difference("a  b", "a b") == "the texts differ only in whitespace"
    assert first_difference("same", "same") is None


def test_the_mode_is_written_in_the_header_and_used_to_match(tmp_path):
    mode = parse_mode("whitespace", "x")
    stored = render_snapshot(generation("m", text="Paris is\nthe capital."), mode)
    header, body = split_snapshot(stored)
    assert "# compare: whitespace\n" in header
    assert body == "Paris is\nthe capital.\n"
    # Exact snapshots keep the header they always had.
    assert "# compare" not in render_snapshot(generation("m", text="x"))
    extension = make_extension(tmp_path, set(), mode)()
    now = render_snapshot(generation("m", text="Paris is the capital."), mode)
    assert extension.matches(serialized_data=now, snapshot_data=stored)
    changed = render_snapshot(generation("m", text="Lyon is the capital."), mode)
    assert not extension.matches(serialized_data=changed, snapshot_data=stored)
    assert next(iter(extension.diff_lines(changed, stored))) == (
        "first difference at token 1: 'Paris' in the snapshot, 'Lyon' now"
    )


def test_a_prompt_can_name_its_mode_in_prompts_json(tmp_path):
    import json

    from pytest_foundry.prompts import load_prompts

    path = tmp_path / "prompts.json"
    path.write_text(
        json.dumps({"prompts": [{"id": "a", "prompt": "x", "compare": "first_tokens:5"}]}), "utf-8"
    )
    assert load_prompts(path)[0].compare == "first_tokens:5"
    path.write_text(json.dumps({"prompts": [{"id": "a", "prompt": "x", "compare": "fuzzy"}]}), "utf-8")
    with pytest.raises(ConfigError, match="compare"):
        load_prompts(path)
