"""Prompt sets: the shipped default, the accepted formats, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_foundry.errors import ConfigError
from pytest_foundry.prompts import PROMPT_ID_PATTERN, PromptSpec, load_prompts, parse_prompts

WORKSHOP_IDS = ["rag_principle", "privacy_benefits", "size_latency", "slm_scenarios"]


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- the default set -------------------------------------------------------------------------
def test_default_set_starts_with_the_workshop_prompts_in_order():
    prompts = load_prompts()
    assert [p.id for p in prompts[:4]] == WORKSHOP_IDS
    assert prompts[0].prompt == "Explain the principle of retrieval augmented generation in 2 sentences."


def test_default_ids_are_unique_and_dash_free():
    ids = [p.id for p in load_prompts()]
    assert len(ids) == len(set(ids)) >= 4
    assert all(PROMPT_ID_PATTERN.match(i) and "-" not in i for i in ids)


def test_default_set_is_valid_against_the_schema():
    # Runs on the defaults skip schema validation (no jsonschema import): this is the check.
    shipped = Path(__file__).parents[2] / "pytest_foundry" / "data" / "prompts.json"
    assert parse_prompts(json.loads(shipped.read_text(encoding="utf-8")), "shipped") == load_prompts()


def test_default_set_is_loaded_fresh_each_time():
    assert load_prompts() == load_prompts()
    assert load_prompts() is not load_prompts()


# -- formats ---------------------------------------------------------------------------------
def test_object_format_with_every_field(tmp_path):
    path = write(
        tmp_path / "prompts.json",
        {
            "prompts": [
                {
                    "id": "notes",
                    "prompt": "Summarize.",
                    "system": "Be brief.",
                    "max_tokens": 64,
                    "tags": ["summarize"],
                    "rubric": ["mentions Ana"],
                },
                {"id": "plain.v2", "prompt": "Hello"},
            ]
        },
    )
    notes, plain = load_prompts(path)
    assert notes == PromptSpec(
        id="notes",
        prompt="Summarize.",
        system="Be brief.",
        max_tokens=64,
        tags=("summarize",),
        rubric=("mentions Ana",),
    )
    assert (plain.id, plain.system, plain.max_tokens, plain.tags) == ("plain.v2", None, None, ())


def test_bare_list_of_entries(tmp_path):
    path = write(tmp_path / "p.json", [{"id": "b", "prompt": "B"}, {"id": "a", "prompt": "A"}])
    assert [p.id for p in load_prompts(path)] == ["b", "a"]


def test_plain_strings_get_ids_from_their_first_words():
    prompts = parse_prompts(
        [
            "Explain the principle of retrieval augmented generation in 2 sentences.",
            "List 3 privacy benefits of local inference.",
            "???",
        ],
        "inline",
    )
    assert [p.id for p in prompts] == ["explain_the_principle_of", "list_3_privacy_benefits", "prompt"]
    assert prompts[1].prompt == "List 3 privacy benefits of local inference."


def test_plain_strings_with_the_same_first_words_get_numbered_ids():
    prompts = parse_prompts(["Tell me a joke.", "Tell me a story.", "Tell me a riddle."], "inline")
    assert [p.id for p in prompts] == ["tell_me_a_joke", "tell_me_a_story", "tell_me_a_riddle"]
    same = parse_prompts(["Say hi now please", "Say hi now please!", "Say hi now, please?"], "inline")
    assert [p.id for p in same] == ["say_hi_now_please", "say_hi_now_please_2", "say_hi_now_please_3"]


def test_messages_put_the_system_prompt_first():
    with_system = PromptSpec(id="a", prompt="Q", system="S")
    assert with_system.messages() == [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    assert PromptSpec(id="b", prompt="Q").messages() == [{"role": "user", "content": "Q"}]


def test_messages_are_a_fresh_list_each_time():
    spec = PromptSpec(id="a", prompt="Q")
    spec.messages().append({"role": "assistant", "content": "x"})
    assert spec.messages() == [{"role": "user", "content": "Q"}]


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"prompts": [{"id": "a", "prmpt": "x"}]}, r"prompts\[0\]: 'prompt' is a required property"),
        ({"prompts": [{"id": "a", "prompt": "x", "extra": 1}]}, r"prompts\[0\]"),
        ({"prompts": [{"id": "a", "prompt": "x", "max_tokens": 0}]}, r"prompts\[0\]\.max_tokens"),
        ({"prompts": [{"id": "a", "prompt": "x", "tags": "t"}]}, r"prompts\[0\]\.tags"),
        ({"prompts": [{"id": "a b", "prompt": "x"}]}, r"prompts\[0\]\.id"),
        (
            {"prompts": [{"id": "ok", "prompt": "x"}, {"id": "a-b", "prompt": "x"}]},
            r"prompts\[1\] \(id=a-b\): id may",
        ),
        ({"prompts": [{"id": "a", "prompt": ""}]}, r"prompts\[0\]\.prompt"),
        (
            {"prompts": [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]},
            r"prompts\[1\] \(id=a\): duplicate",
        ),
        ({"prompts": []}, r"the prompt set is empty"),
        ([], r"the prompt set is empty"),
        ({"prompt": []}, r"'prompts' is a required property"),
        (42, r"<root>"),
    ],
)
def test_invalid_sets_name_the_file_and_the_entry(tmp_path, data, message):
    path = write(tmp_path / "bad-prompts.json", data)
    with pytest.raises(ConfigError, match=message) as info:
        load_prompts(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ")
    assert "\n" not in text


def test_malformed_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "prompts.json"
    path.write_text('{"prompts": [\n  {"id": "a", "prompt": "x"},\n]}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"prompts\.json: invalid JSON at line 3 column 1"):
        load_prompts(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.json: file not found"):
        load_prompts(tmp_path / "nope.json")


def test_a_folder_is_not_a_prompts_file(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, not a JSON file"):
        load_prompts(tmp_path)


def test_a_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "prompts.json"
    path.write_bytes(b'{"prompts": [{"id": "a", "prompt": "caf\xe9"}]}')
    with pytest.raises(ConfigError, match=r"prompts\.json: not UTF-8 text \(byte 0xe9 at offset 39\)"):
        load_prompts(path)


def test_a_prompt_id_too_long_for_a_file_name_is_refused(tmp_path):
    path = write(tmp_path / "prompts.json", {"prompts": [{"id": "a" * 121, "prompt": "x"}]})
    with pytest.raises(ConfigError, match="id is 121 characters long; at most 120"):
        load_prompts(path)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    # Windows PowerShell 5 ('Set-Content -Encoding UTF8') and Notepad write one.
    path = tmp_path / "prompts.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"prompts": [{"id": "a", "prompt": "x"}]}).encode())
    assert [p.id for p in load_prompts(path)] == ["a"]


def test_prompt_ids_differing_only_in_case_are_duplicates():
    # snapshots/<model>/<id>.txt files differing only in case are one file on Windows and macOS.
    with pytest.raises(ConfigError, match="duplicate prompt id"):
        parse_prompts([{"id": "Summary", "prompt": "x"}, {"id": "summary", "prompt": "y"}], "p.json")
