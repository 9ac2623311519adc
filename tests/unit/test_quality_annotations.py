"""Human annotations: loading JSON/CSV, the stale-hash rule, and the reviewer's stub."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_foundry.errors import ConfigError
from pytest_foundry.quality.annotations import (
    AnnotationEntry,
    Annotations,
    StubOutput,
    load_annotations,
    lookup,
    output_sha256,
    stub_outputs,
    write_stub,
)

DATA = Path(__file__).parent / "quality_data"
RAG = "RAG retrieves documents, then generates."
OLD_PRIVACY = "Old answer about privacy."
NEW_PRIVACY = "New answer: data stays local, no logs, no upload."
UNSCORED = 'Unscored, multi-line,\n"quoted" output.'


def sha(text: str) -> str:
    return output_sha256(text)


@pytest.fixture(params=["annotations.json", "annotations.csv"])
def sample(request: pytest.FixtureRequest) -> Annotations:
    return load_annotations(DATA / request.param)


# ------------------------------------------------------------------------------- loading


def test_output_sha256_is_sha256_of_utf8() -> None:
    assert sha("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha("é") == hashlib.sha256(b"\xc3\xa9").hexdigest()


def test_json_and_csv_load_the_same_entries() -> None:
    from_json = load_annotations(DATA / "annotations.json")
    from_csv = load_annotations(DATA / "annotations.csv")
    assert from_json.entries == from_csv.entries
    assert len(from_json.entries) == 3
    first = from_json.entries[0]
    assert first == AnnotationEntry("phi-3.5-mini", "rag_principle", sha(RAG), 4, "clear", RAG)
    assert from_csv.entries[2].output == UNSCORED  # quoted newline and quotes survive CSV


def test_lookup_match(sample: Annotations) -> None:
    record = lookup(sample, "phi-3.5-mini", "rag_principle", sha(RAG))
    assert record == {"score": 4, "stale": False, "note": "clear", "scored_sha256": sha(RAG)}


def test_lookup_matches_uppercase_hash(sample: Annotations) -> None:
    assert lookup(sample, "phi-3.5-mini", "rag_principle", sha(RAG).upper())["score"] == 4


def test_lookup_stale_when_the_output_changed(sample: Annotations) -> None:
    record = lookup(sample, "phi-3.5-mini", "privacy_benefits", sha(NEW_PRIVACY))
    assert record == {
        "score": 2,
        "stale": True,
        "note": "missed one benefit",
        "scored_sha256": sha(OLD_PRIVACY),
    }


def test_lookup_missing(sample: Annotations) -> None:
    record = lookup(sample, "phi-3.5-mini", "size_latency", sha("anything"))
    assert record == {"score": None, "stale": False, "note": "", "scored_sha256": None}
    # Same prompt, other model: not this model's score.
    assert lookup(sample, "qwen2.5-0.5b", "privacy_benefits", sha(OLD_PRIVACY))["score"] is None


def test_lookup_unscored_entry_is_not_a_score(sample: Annotations) -> None:
    record = lookup(sample, "qwen2.5-0.5b", "rag_principle", sha(UNSCORED))
    assert record["score"] is None
    assert not record["stale"]


def test_lookup_blank_for_new_output_shows_older_score_as_stale() -> None:
    annotations = Annotations(
        "a.json",
        (
            AnnotationEntry("m", "p", sha("v1"), 5, "first"),
            AnnotationEntry("m", "p", sha("v2"), 3, "second"),
            AnnotationEntry("m", "p", sha("v3"), None, "", "v3"),
        ),
    )
    record = lookup(annotations, "m", "p", sha("v3"))
    # The latest scored entry in the file, flagged stale.
    assert record == {"score": 3, "stale": True, "note": "second", "scored_sha256": sha("v2")}
    assert lookup(annotations, "m", "p", sha("v1"))["score"] == 5


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_annotations(tmp_path / "nope.json")
    with pytest.raises(ConfigError, match="file not found"):
        load_annotations(tmp_path / "nope.csv")
    assert load_annotations(tmp_path / "nope.csv", missing_ok=True).entries == ()


def write_json(tmp_path: Path, entries: Any) -> Path:
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def entry(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "prompt": "p", "output_sha256": sha("x"), "score": 3, "note": "", **fields}


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (
            {"annotations": [entry(), entry(score=7)]},
            "annotations[1]: score must be an integer 1..5 or empty, got 7",
        ),
        ({"annotations": [entry(score=0)]}, "annotations[0]: score must be an integer 1..5"),
        ({"annotations": [entry(score=3.5)]}, "got 3.5"),
        ({"annotations": [entry(score="4")]}, "got '4'"),
        ({"annotations": [entry(score=True)]}, "got True"),
        (
            {"annotations": [entry(output_sha256="abc")]},
            "annotations[0]: output_sha256 must be 64 hex digits",
        ),
        ({"annotations": [entry(model="")]}, "annotations[0]: model must be a non-empty string"),
        ({"annotations": [entry(socre=4)]}, "annotations[0]: unknown key 'socre'"),
        ({"annotations": [entry(note=5)]}, "annotations[0]: note must be a string"),
        ({"annotations": [entry(), entry(score=5)]}, "annotations[1]: duplicate of annotations[0]"),
        ({"annotations": ["m,p,x"]}, "annotations[0]: expected an object"),
        ({"notes": []}, "unknown top-level key 'notes'"),
        ({}, "missing the 'annotations' list"),
        ({"annotations": {}}, "'annotations' must be a list"),
    ],
)
def test_json_errors_name_file_entry_and_problem(tmp_path: Path, entries: Any, expected: str) -> None:
    path = write_json(tmp_path, entries)
    with pytest.raises(ConfigError) as info:
        load_annotations(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_json_bare_list_and_null_score(tmp_path: Path) -> None:
    annotations = load_annotations(write_json(tmp_path, [entry(score=None, note=None)]))
    assert annotations.entries == (AnnotationEntry("m", "p", sha("x"), None, "", None),)


def test_malformed_json(tmp_path: Path) -> None:
    path = tmp_path / "ann.json"
    path.write_text('{"annotations": [', encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid JSON at line 1"):
        load_annotations(path)


HEADER = "model,prompt,output_sha256,score,note,output\n"


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "ann.CSV"  # the extension is matched case-insensitively
    path.write_text(text, encoding=encoding)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEADER + f"m,p,{sha('x')},6,,\n", "row 1 (line 2): score must be an integer 1..5 or empty, got '6'"),
        (HEADER + f"m,p,{sha('x')},4,,\nm,q,{sha('x')},four,,\n", "row 2 (line 3): score must be"),
        (HEADER + f"m,p,{sha('x')},4.0,,\n", "got '4.0'"),
        (HEADER + f'm,p,{sha("x")},2,,"a\nb"\nm,q,{sha("x")},9,,\n', "row 2 (line 4): score"),
        (HEADER + f"m,p,{sha('x')},4,\n", "row 1 (line 2): 5 fields, the header has 6"),
        (HEADER + f"m,,{sha('x')},4,,\n", "row 1 (line 2): prompt must be a non-empty string"),
        (HEADER + f"m,p,{sha('x')},4,,\nm,p,{sha('x')},5,,\n", "row 2 (line 3): duplicate of row 1 (line 2)"),
        ("model,prompt,sha,score\n", "unknown column 'sha'"),
        ("model,prompt,output_sha256\n", "header lacks the column 'score'"),
        ("", "empty CSV"),
    ],
)
def test_csv_errors_name_file_row_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write_csv(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_annotations(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_csv_blank_lines_bom_optional_columns_and_spaces(tmp_path: Path) -> None:
    text = "\ufeffmodel,prompt,output_sha256,score\n\nm,p," + sha("x").upper() + ", 5 \n"
    annotations = load_annotations(write_csv(tmp_path, text))
    assert annotations.entries == (AnnotationEntry("m", "p", sha("x"), 5, "", None),)


def test_annotations_schema_matches_the_loader() -> None:
    schema = json.loads(
        resources.files("pytest_foundry").joinpath("schemas/annotations.schema.json").read_text()
    )
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(json.loads((DATA / "annotations.json").read_text())))
    assert list(validator.iter_errors({"annotations": [entry(score=6)]}))
    assert list(validator.iter_errors({"annotations": [entry(socre=3)]}))


# --------------------------------------------------------------------------------- stub


def outputs() -> list[StubOutput]:
    return [
        StubOutput("phi-3.5-mini", "rag_principle", sha(RAG), RAG),  # scored: kept as is
        StubOutput("phi-3.5-mini", "privacy_benefits", sha(NEW_PRIVACY), NEW_PRIVACY),  # changed
        StubOutput("qwen2.5-0.5b", "size_latency", sha("Bigger is slower."), "Bigger is slower."),  # new
    ]


@pytest.mark.parametrize("name", ["annotations.json", "annotations.csv"])
def test_stub_keeps_scored_entries_and_adds_unscored(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    shutil.copy(DATA / name, path)
    unscored = write_stub(path, outputs())
    written = load_annotations(path)
    by_key = {entry.key: entry for entry in written.entries}
    assert unscored == 2
    # Scored entries are kept, including the stale one; the old blank of a vanished output goes.
    assert by_key[("phi-3.5-mini", "rag_principle", sha(RAG))].score == 4
    assert by_key[("phi-3.5-mini", "privacy_benefits", sha(OLD_PRIVACY))].score == 2
    assert ("qwen2.5-0.5b", "rag_principle", sha(UNSCORED)) not in by_key
    # New blanks carry the output text for the reviewer.
    blank = by_key[("phi-3.5-mini", "privacy_benefits", sha(NEW_PRIVACY))]
    assert (blank.score, blank.note, blank.output) == (None, "", NEW_PRIVACY)
    assert by_key[("qwen2.5-0.5b", "size_latency", sha("Bigger is slower."))].score is None
    # Grouped by model and prompt; the stale score sits right before the new blank.
    keys = [(entry.model, entry.prompt) for entry in written.entries]
    assert keys == sorted(keys)
    privacy = [entry.output_sha256 for entry in written.entries if entry.prompt == "privacy_benefits"]
    assert privacy == [sha(OLD_PRIVACY), sha(NEW_PRIVACY)]
    # Still stale until the reviewer scores the blank.
    assert lookup(written, "phi-3.5-mini", "privacy_benefits", sha(NEW_PRIVACY))["stale"]


def test_stub_creates_the_file_and_a_reviewer_fills_it(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "annotations.json"
    assert write_stub(path, outputs()) == 3
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data) == ["annotations"]
    assert list(data["annotations"][0]) == ["model", "prompt", "output_sha256", "score", "note", "output"]
    assert all(item["score"] is None for item in data["annotations"])
    data["annotations"][0]["score"] = 5
    path.write_text(json.dumps(data), encoding="utf-8")
    assert write_stub(path, outputs()) == 2
    assert [entry.score for entry in load_annotations(path).entries].count(5) == 1


def test_stub_keeps_blank_entries_with_a_note_and_the_schema_ref(tmp_path: Path) -> None:
    path = write_json(
        tmp_path,
        {"$schema": "annotations.schema.json", "annotations": [entry(score=None, note="ask Ana")]},
    )
    write_stub(path, [])
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["$schema"] == "annotations.schema.json"
    assert data["annotations"][0]["note"] == "ask Ana"


def test_stub_dedupes_outputs_and_uses_the_given_existing(tmp_path: Path) -> None:
    path = tmp_path / "stub.csv"
    existing = load_annotations(DATA / "annotations.json")
    write_stub(path, outputs() + outputs(), existing=existing)
    written = load_annotations(path)
    assert len(written.entries) == 4  # 2 scored kept + 2 new blanks; duplicates collapsed
    assert path.read_text(encoding="utf-8").startswith("model,prompt,output_sha256,score,note,output\n")


def test_stub_does_not_rewrite_an_unchanged_file(tmp_path: Path) -> None:
    path = tmp_path / "annotations.json"
    write_stub(path, outputs())
    os.utime(path, (1_000_000, 1_000_000))
    write_stub(path, outputs())
    assert path.stat().st_mtime == 1_000_000


def test_stub_never_overwrites_a_malformed_file(tmp_path: Path) -> None:
    path = write_json(tmp_path, {"annotations": [entry(score=9)]})
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="score must be"):
        write_stub(path, outputs())
    assert path.read_bytes() == before


def test_stub_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing leaves the old file whole and no temporary file behind."""
    path = tmp_path / "annotations.json"
    shutil.copy(DATA / "annotations.json", path)
    before = path.read_bytes()

    def fail(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_stub(path, outputs())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotations.json"]


def test_stub_outputs_from_result_cells() -> None:
    cells = [
        {"model": "m", "prompt": "p", "output": {"text": "hi", "sha256": sha("hi")}},
        {"model": "m", "prompt": "q", "output": None},
    ]
    assert stub_outputs(cells) == [StubOutput("m", "p", sha("hi"), "hi")]
