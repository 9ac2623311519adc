"""Reading user-supplied JSON files with one-line errors that name the file and key.

Pure: no pytest.  Schemas ship in ``pytest_foundry/schemas/`` and are validated with
jsonschema (draft 2020-12).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_foundry.errors import ConfigError


def load_json_file(path: str | Path) -> Any:
    """Parse a JSON file; a missing or malformed file raises a one-line ConfigError."""
    file = Path(path)
    try:
        # utf-8-sig: Windows editors and PowerShell 5 often save a byte-order mark.
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a folder, not a JSON file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{file}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{file}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in pytest_foundry/schemas/, e.g. ``load_schema("prompts")``."""
    text = resources.files("pytest_foundry").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def json_path(parts: Iterable[str | int]) -> str:
    """``["prompts", 2, "id"]`` -> ``prompts[2].id`` (``<root>`` when empty)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"


def validate_json(data: Any, schema_name: str, source: str | Path) -> None:
    """Validate against a shipped schema; the first (most relevant) error, as one line."""
    import jsonschema  # here: it costs ~0.2 s to import, and most runs read no JSON file

    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
        raise ConfigError(f"{source}: {json_path(error.absolute_path)}: {message}")
