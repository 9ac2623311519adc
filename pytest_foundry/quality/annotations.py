"""Human 1-5 scores per model x prompt, tied to the exact output they judged.

Pure: no pytest.  The file (``--foundry-annotations=FILE``, JSON or ``.csv``) holds one
entry per scored output::

    {"annotations": [{"model": "phi-3.5-mini", "prompt": "rag_principle",
                      "output_sha256": "<sha256 hex of the output text, utf-8>",
                      "score": 4, "note": "clear, slightly long", "output": "..."}]}

or the CSV ``model,prompt,output_sha256,score,note,output``.  A score is keyed by the
hash of the output it judged, so when a model's output changes its old score shows as
*stale* instead of silently vouching for text nobody read.  :func:`write_stub` lists
every unscored output so a reviewer fills the blanks and commits the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict

from pytest_foundry.atomic_files import atomic_write_text
from pytest_foundry.errors import ConfigError, one_line
from pytest_foundry.json_files import load_json_file

FIELDS: tuple[str, ...] = ("model", "prompt", "output_sha256", "score", "note", "output")
REQUIRED_FIELDS: tuple[str, ...] = ("model", "prompt", "output_sha256")
SCORE_MIN, SCORE_MAX = 1, 5
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


class AnnotationRecord(TypedDict):
    """``QualityRecord["annotation"]`` for one model x prompt output.

    score: the human score, or None when the output was never scored.  stale: the score
    was given to a different output of this model x prompt (``scored_sha256``); show it,
    flagged, but do not count it as a score of the current output.
    """

    score: int | None
    stale: bool
    note: str
    scored_sha256: str | None


@dataclass(frozen=True)
class AnnotationEntry:
    model: str
    prompt: str
    output_sha256: str
    score: int | None = None
    note: str = ""
    output: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model, self.prompt, self.output_sha256)

    def as_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "model": self.model,
            "prompt": self.prompt,
            "output_sha256": self.output_sha256,
            "score": self.score,
            "note": self.note,
        }
        if self.output is not None:
            record["output"] = self.output
        return record


@dataclass(frozen=True)
class Annotations:
    """The entries of an annotations file, in file order."""

    source: str
    entries: tuple[AnnotationEntry, ...] = ()
    # "$schema" of a JSON file, written back by write_stub so editor support survives.
    json_schema_ref: str | None = None
    _by_cell: dict[tuple[str, str], list[AnnotationEntry]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for entry in self.entries:
            self._by_cell.setdefault((entry.model, entry.prompt), []).append(entry)

    def for_cell(self, model: str, prompt: str) -> list[AnnotationEntry]:
        return list(self._by_cell.get((model, prompt), ()))


def output_sha256(text: str) -> str:
    """The hash annotations are keyed by (same as OutputRecord.sha256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------ reading


def load_annotations(path: str | Path, *, missing_ok: bool = False) -> Annotations:
    """Read a JSON or (by extension) CSV annotations file; errors are one-line ConfigErrors.

    ``missing_ok``: a missing file reads as empty (the first run, before any stub).
    """
    file = Path(path)
    if missing_ok and not file.exists():
        return Annotations(str(file))
    if _is_csv(file):
        return _load_csv(file)
    return _load_json(file)


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def _load_json(file: Path) -> Annotations:
    data = load_json_file(file)
    schema_ref: str | None = None
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"annotations", "$schema"})
        if unknown:
            raise ConfigError(f"{file}: unknown top-level key {unknown[0]!r} (expected 'annotations')")
        if "annotations" not in data:
            raise ConfigError(f"{file}: missing the 'annotations' list")
        raw_ref = data.get("$schema")
        schema_ref = raw_ref if isinstance(raw_ref, str) else None
        items = data["annotations"]
    else:
        items = data
    if not isinstance(items, list):
        raise ConfigError(f"{file}: 'annotations' must be a list of entries")
    entries = []
    for index, item in enumerate(items):
        where = f"{file}: annotations[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected an object with {', '.join(REQUIRED_FIELDS)}, score")
        entries.append(_entry(item, where, from_csv=False))
    return Annotations(str(file), _no_duplicates(entries, file, "annotations[{}]"), schema_ref)


def _load_csv(file: Path) -> Annotations:
    try:
        # utf-8-sig: spreadsheet programs save a byte-order mark.
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(one_line(f"{file}: cannot read: {exc}")) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ConfigError(f"{file}: empty CSV, expected the header {','.join(FIELDS)}")
        columns = [name.strip() for name in header]
        unknown = [name for name in columns if name not in FIELDS]
        if unknown:
            raise ConfigError(f"{file}: unknown column {unknown[0]!r}; columns are {','.join(FIELDS)}")
        missing = [name for name in (*REQUIRED_FIELDS, "score") if name not in columns]
        if missing:
            raise ConfigError(
                f"{file}: header lacks the column {missing[0]!r}; columns are {','.join(FIELDS)}"
            )
        if len(set(columns)) != len(columns):
            raise ConfigError(f"{file}: a column appears twice in the header")
        entries: list[AnnotationEntry] = []
        rows: list[str] = []
        first_line = reader.line_num + 1
        for row in reader:
            where = f"{file}: row {len(entries) + 1} (line {first_line})"
            first_line = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if len(row) != len(columns):
                raise ConfigError(f"{where}: {len(row)} fields, the header has {len(columns)}")
            entries.append(_entry(dict(zip(columns, row, strict=True)), where, from_csv=True))
            rows.append(where.removeprefix(f"{file}: "))
    except csv.Error as exc:
        raise ConfigError(one_line(f"{file}: line {reader.line_num}: malformed CSV: {exc}")) from None
    return Annotations(str(file), _no_duplicates(entries, file, rows))


def _entry(item: Mapping[str, Any], where: str, *, from_csv: bool) -> AnnotationEntry:
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; keys are {', '.join(FIELDS)}")
    values: dict[str, str] = {}
    for name in REQUIRED_FIELDS:
        value = item.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {name} must be a non-empty string")
        values[name] = value.strip()
    if not _SHA256.match(values["output_sha256"]):
        raise ConfigError(f"{where}: output_sha256 must be 64 hex digits (sha256 of the output text)")
    score = _score(item.get("score"), where, from_csv=from_csv)
    note = item.get("note")
    if note is None:
        note = ""
    if not isinstance(note, str):
        raise ConfigError(f"{where}: note must be a string")
    output = item.get("output")
    if output is not None and not isinstance(output, str):
        raise ConfigError(f"{where}: output must be a string")
    if from_csv and output == "":
        output = None
    return AnnotationEntry(
        model=values["model"],
        prompt=values["prompt"],
        output_sha256=values["output_sha256"].lower(),
        score=score,
        note=note.strip(),
        output=output,
    )


def _score(value: Any, where: str, *, from_csv: bool) -> int | None:
    problem = f"{where}: score must be an integer {SCORE_MIN}..{SCORE_MAX} or empty, got {value!r}"
    if from_csv and isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _INTEGER.match(text):
            raise ConfigError(problem)
        value = int(text)
    if value is None:
        return None
    # bool is an int in Python; true/false is not a score.
    if isinstance(value, bool) or not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX:
        raise ConfigError(problem)
    return value


def _no_duplicates(
    entries: list[AnnotationEntry], file: Path, labels: str | list[str]
) -> tuple[AnnotationEntry, ...]:
    """Two entries for one output would be two competing scores: refuse, naming both."""

    def label(index: int) -> str:
        return labels.format(index) if isinstance(labels, str) else labels[index]

    seen: dict[tuple[str, str, str], int] = {}
    for index, entry in enumerate(entries):
        if entry.key in seen:
            raise ConfigError(
                f"{file}: {label(index)}: duplicate of {label(seen[entry.key])} "
                f"(model={entry.model}, prompt={entry.prompt}, same output_sha256)"
            )
        seen[entry.key] = index
    return tuple(entries)


# ------------------------------------------------------------------------------- lookup


def lookup(annotations: Annotations, model: str, prompt: str, output_sha256: str) -> AnnotationRecord:
    """The human score of this exact output, or the stale score of an earlier output.

    - an entry with this hash and a score: that score, not stale;
    - otherwise a scored entry of this model x prompt with another hash: its score,
      ``stale=True`` (the last such entry in the file, the file being appended to);
    - otherwise: ``score=None`` (never scored; the note of a blank entry, if any).
    """
    entries = annotations.for_cell(model, prompt)
    sha = output_sha256.lower()
    exact = next((entry for entry in entries if entry.output_sha256 == sha), None)
    if exact is not None and exact.score is not None:
        return {"score": exact.score, "stale": False, "note": exact.note, "scored_sha256": sha}
    older = [entry for entry in entries if entry.output_sha256 != sha and entry.score is not None]
    if older:
        last = older[-1]
        return {"score": last.score, "stale": True, "note": last.note, "scored_sha256": last.output_sha256}
    return {"score": None, "stale": False, "note": exact.note if exact else "", "scored_sha256": None}


# ------------------------------------------------------------------------------ the stub


@dataclass(frozen=True)
class StubOutput:
    """One output of a run, as the stub lists it for review."""

    model: str
    prompt: str
    output_sha256: str
    output: str


def stub_outputs(cells: Iterable[Mapping[str, Any]]) -> list[StubOutput]:
    """The outputs of results.json cells (CellRecord) that have one, in order."""
    outputs = []
    for cell in cells:
        output = cell.get("output")
        if output:
            outputs.append(StubOutput(cell["model"], cell["prompt"], output["sha256"], output["text"]))
    return outputs


def write_stub(path: str | Path, outputs: Iterable[StubOutput], existing: Annotations | None = None) -> int:
    """Write the annotations file with a blank entry for every unscored output.

    Kept from ``existing`` (default: the file at ``path`` when it exists; a malformed
    file raises ConfigError and is never overwritten): every scored entry, every entry
    with a note, and every entry of a current output.  Blank entries of outputs that are
    gone are dropped.  Entries are grouped by model and prompt, so a stale score sits
    next to the blank for the new output.  Written atomically, as JSON or (by the
    ``.csv`` extension) CSV, and only when the content changes.  Returns how many
    entries are still unscored.
    """
    file = Path(path)
    if existing is None:
        existing = load_annotations(file, missing_ok=True)
    current = {(out.model, out.prompt, out.output_sha256.lower()): out for out in outputs}
    merged: list[AnnotationEntry] = []
    for entry in existing.entries:
        now = current.pop(entry.key, None)
        if now is not None and entry.output is None:
            entry = replace(entry, output=now.output)  # the reviewer needs the text
        if now is not None or entry.score is not None or entry.note:
            merged.append(entry)
    merged += [
        AnnotationEntry(out.model, out.prompt, key[2], None, "", out.output) for key, out in current.items()
    ]
    merged.sort(key=lambda entry: (entry.model, entry.prompt))  # stable: file order within a cell
    text = _render_csv(merged) if _is_csv(file) else _render_json(merged, existing.json_schema_ref)
    try:
        unchanged = file.read_text(encoding="utf-8-sig") == text
    except (OSError, UnicodeDecodeError):
        unchanged = False
    if not unchanged:
        atomic_write_text(file, text)
    return sum(entry.score is None for entry in merged)


def _render_json(entries: list[AnnotationEntry], schema_ref: str | None) -> str:
    document: dict[str, Any] = {"$schema": schema_ref} if schema_ref else {}
    document["annotations"] = [entry.as_dict() for entry in entries]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _render_csv(entries: list[AnnotationEntry]) -> str:
    buffer = io.StringIO(newline="")
    # "\n" line ends: friendlier diffs; quoted fields keep multi-line outputs intact.
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    for entry in entries:
        writer.writerow(
            [
                entry.model,
                entry.prompt,
                entry.output_sha256,
                "" if entry.score is None else str(entry.score),
                entry.note,
                entry.output or "",
            ]
        )
    return buffer.getvalue()
