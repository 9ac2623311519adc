"""Prompt sets: loading and validating prompts.json.

Pure: no pytest.  Format (JSON Schema in ``schemas/prompts.schema.json``)::

    {"prompts": [{"id": "rag_principle", "prompt": "...", "system"?: "...",
                  "max_tokens"?: 64, "tags"?: [...], "checks"?: [...], "rubric"?: [...]}]}

A bare list of entries, or of plain strings (the workshop's format), is accepted too;
a plain string gets an id made from its first words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_foundry.errors import ConfigError
from pytest_foundry.json_files import load_json_file, validate_json

DEFAULT_PROMPTS_NAME = "default prompt set"
# Test ids join model and prompt with "-"; keeping "-" out of prompt ids keeps the join
# unambiguous, so ids never collide across models x prompts.
PROMPT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")
# Ids name snapshot files (<id>.<n>.txt): well inside every file system's 255-byte limit.
PROMPT_ID_MAX_LENGTH = 120


@dataclass(frozen=True)
class PromptSpec:
    """One prompt of the set, as the tests and reports see it."""

    id: str
    prompt: str
    system: str | None = None
    max_tokens: int | None = None
    tags: tuple[str, ...] = ()
    checks: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    rubric: tuple[str, ...] = ()
    compare: str | None = None  # snapshot comparison mode (snapshot_compare.py); None: the run's

    def messages(self) -> list[dict[str, str]]:
        """Chat messages for this prompt (system first when set)."""
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": self.prompt})
        return messages


def _id_from_text(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text.lower())[:4]
    return "_".join(words) or "prompt"


def parse_prompts(data: Any, source: str, *, validate: bool = True) -> list[PromptSpec]:
    """Validate parsed prompts.json data and build the specs (errors name source/entry)."""
    if validate:
        validate_json(data, "prompts", source)
    entries = data["prompts"] if isinstance(data, dict) else data
    specs: list[PromptSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"id": _id_from_text(entry), "prompt": entry}
            suffix = 2
            while entry["id"].lower() in seen:
                entry["id"] = f"{_id_from_text(entry['prompt'])}_{suffix}"
                suffix += 1
        where = f"{source}: prompts[{index}] (id={entry['id']})"
        if not PROMPT_ID_PATTERN.match(entry["id"]):
            raise ConfigError(f"{where}: id may hold only letters, digits, '_' and '.'")
        if len(entry["id"]) > PROMPT_ID_MAX_LENGTH:
            raise ConfigError(
                f"{where}: id is {len(entry['id'])} characters long; at most {PROMPT_ID_MAX_LENGTH} "
                "(it names the snapshot file)"
            )
        # Case-insensitively: snapshots/<model>/<id>.txt must stay apart on Windows and macOS.
        if entry["id"].lower() in seen:
            raise ConfigError(f"{where}: duplicate prompt id (ids must differ in more than case)")
        seen.add(entry["id"].lower())
        checks = entry.get("checks", [])
        if checks and validate:
            from pytest_foundry.quality.checks import validate_checks

            validate_checks(checks, where)
        if "compare" in entry and validate:
            from pytest_foundry.snapshot_compare import parse_mode

            parse_mode(str(entry["compare"]), where)
        if "rubric" in entry and validate:
            from pytest_foundry.quality.judge import validate_rubric

            validate_rubric(entry["rubric"], where)
        specs.append(
            PromptSpec(
                id=entry["id"],
                prompt=entry["prompt"],
                system=entry.get("system"),
                max_tokens=entry.get("max_tokens"),
                tags=tuple(entry.get("tags", ())),
                checks=tuple(checks),
                rubric=tuple(entry.get("rubric", ())),
                compare=entry.get("compare"),
            )
        )
    if not specs:
        raise ConfigError(f"{source}: the prompt set is empty")
    return specs


def load_prompts(path: str | Path | None = None) -> list[PromptSpec]:
    """The prompts of a prompts.json file, or the shipped default set when path is None."""
    if path is None:
        text = resources.files("pytest_foundry").joinpath("data", "prompts.json").read_text("utf-8")
        import json

        # The shipped set is checked against the schema by the project's own tests; not
        # validating it here keeps jsonschema out of runs that use the defaults.
        return parse_prompts(json.loads(text), DEFAULT_PROMPTS_NAME, validate=False)
    return parse_prompts(load_json_file(path), str(path))
