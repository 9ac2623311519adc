"""Finding JSON in model output: models wrap it in ```json fences and chatty prose.

Pure: no pytest.  Two strictness levels, because they answer different questions:
:func:`extract_json` (the "json" check) accepts the whole text or a fenced block, since
a prompt that asks for only JSON is testing exactly that; :func:`find_json_object` (the
judge) also digs one object out of surrounding prose, since there the scores matter and
the wrapping does not.
"""

from __future__ import annotations

import json
import re
from typing import Any

# ```json ... ``` or ``` ... ```; the language tag and the newlines are optional.
_FENCE = re.compile(r"```(?:[ \t]*[A-Za-z0-9_-]+)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def fenced_blocks(text: str) -> list[str]:
    """The contents of every fenced block, stripped, in order."""
    return [match.group(1).strip() for match in _FENCE.finditer(text)]


def extract_json(text: str) -> Any:
    """The whole (stripped) text as JSON, else the first fenced block as JSON.

    Raises json.JSONDecodeError (a ValueError) when neither parses; the error is the
    whole text's when there is no fenced block, so its message points at the real problem.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as whole_error:
        blocks = fenced_blocks(stripped)
        if not blocks:
            raise whole_error from None
        return json.loads(blocks[0])


def find_json_object(text: str) -> dict[str, Any]:
    """Exactly one JSON object in the text: whole, fenced, or among prose.

    Raises ValueError with a short reason when there is none or more than one, since
    picking one of several would silently choose between contradicting answers.
    """
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        pass
    else:
        if isinstance(whole, dict):
            return whole
        raise ValueError(f"expected a JSON object, got a JSON {_kind(whole)}")
    for block in fenced_blocks(stripped):
        try:
            fenced = json.loads(block)
        except json.JSONDecodeError:
            continue
        if isinstance(fenced, dict):
            return fenced
    objects = _objects_in(stripped)
    if not objects:
        raise ValueError("no JSON object in the response")
    if len(objects) > 1:
        raise ValueError(f"{len(objects)} JSON objects in the response, expected exactly one")
    return objects[0]


def _objects_in(text: str) -> list[dict[str, Any]]:
    """Top-level JSON objects embedded in prose, left to right, not overlapping."""
    found: list[dict[str, Any]] = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        position = text.find("{", end)
    return found


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "number"
