"""Deterministic checks of a model's output text, declared per prompt in prompts.json.

Pure: no pytest, no model.  A check never raises while running: a check that cannot be
evaluated (say, an unvalidated bad regex) fails with a detail saying why, so one bad
output or check never stops the benchmark.  Load-time problems are caught earlier by
:func:`validate_checks`, which the prompt loader calls after the JSON Schema.

Check types (see docs/quality.md)::

    {"type": "contains" | "not_contains", "value": str, "case_sensitive"?: bool}
    {"type": "regex", "pattern": str, "flags"?: "i" | "m" | "s" (any combination)}
    {"type": "json", "schema"?: {...}}
    {"type": "max_words" | "min_words", "value": int}
    {"type": "one_of", "values": [str, ...], "case_sensitive"?: bool}

Every check may carry a "name" shown in reports instead of the generated one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from pytest_foundry.errors import ConfigError, one_line
from pytest_foundry.quality.json_text import extract_json

if TYPE_CHECKING:
    import jsonschema

CHECK_TYPES: tuple[str, ...] = (
    "contains",
    "not_contains",
    "regex",
    "json",
    "max_words",
    "min_words",
    "one_of",
)
REGEX_FLAGS: dict[str, re.RegexFlag] = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}

# Stripped from both ends before one_of compares: small models wrap a label in quotes or
# end it with a full stop ("Positive."), which is the same answer.
_ONE_OF_TRIM = " \t\r\n\"'`*.!?"
_DETAIL_LIMIT = 160


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one output."""

    name: str
    type: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "passed": self.passed, "detail": self.detail}


# ---------------------------------------------------------------------------- validation


@cache
def _check_validator() -> jsonschema.protocols.Validator:
    """Validator for one check, reusing the $defs of the shipped prompts schema."""
    import jsonschema  # imported on use: most runs never validate a check

    text = resources.files("pytest_foundry").joinpath("schemas", "prompts.schema.json").read_text("utf-8")
    defs = json.loads(text)["$defs"]
    return jsonschema.Draft202012Validator({"$defs": defs, "$ref": "#/$defs/check"})


def validate_checks(checks: Any, where: str) -> None:
    """Validate a prompt's checks beyond the JSON Schema; raise a one-line ConfigError.

    Structure is validated again here (cheap) so callers that bypass the file schema,
    such as tests building prompts by hand, get the same messages.  Beyond the schema:
    regex patterns must compile and json schemas must be valid JSON Schemas.
    ``where`` names the file and entry, e.g. ``"prompts.json: prompts[2] (id=summarize)"``.
    """
    import jsonschema  # imported on use: most runs never validate a check

    if not isinstance(checks, list):
        raise ConfigError(f"{where}: checks must be a list of check objects")
    for index, check in enumerate(checks):
        at = f"{where}: checks[{index}]"
        error = jsonschema.exceptions.best_match(_check_validator().iter_errors(check))
        if error is not None:
            raise ConfigError(one_line(f"{at}{_path(error.path)}: {error.message}"))
        kind = check["type"]
        if kind == "regex":
            try:
                _compile(check)
            except re.error as exc:
                raise ConfigError(
                    one_line(f"{at}: regex {check['pattern']!r} does not compile: {exc}")
                ) from None
        elif kind == "json" and "schema" in check:
            try:
                _validator_class(check["schema"]).check_schema(check["schema"])
            except jsonschema.exceptions.SchemaError as exc:
                raise ConfigError(
                    one_line(f"{at}.schema{_path(exc.path)}: not a valid JSON Schema: {exc.message}")
                ) from None


# ------------------------------------------------------------------------------ running


def run_checks(text: str, checks: Iterable[Mapping[str, Any]]) -> list[CheckResult]:
    """Run every check on the output text, in order; never raises."""
    return [run_check(text, check) for check in checks]


def run_check(text: str, check: Mapping[str, Any]) -> CheckResult:
    kind = str(check.get("type", "?"))
    name = str(check.get("name") or default_name(check))
    try:
        runner = _RUNNERS.get(kind)
        if runner is None:
            return CheckResult(name, kind, False, f"unknown check type {kind!r}")
        passed, detail = runner(text, check)
    except Exception as exc:  # a malformed, unvalidated check: fail it, never the run
        passed, detail = False, f"check could not run: {type(exc).__name__}: {exc}"
    return CheckResult(name, kind, passed, _short(detail))


def checks_score(results: Sequence[CheckResult]) -> float | None:
    """Fraction of checks passed, 0..1; None when the prompt has no checks."""
    if not results:
        return None
    return sum(result.passed for result in results) / len(results)


def checks_record(results: Iterable[CheckResult]) -> list[dict[str, Any]]:
    """The ``QualityRecord["checks"]`` list: ``{"name", "type", "passed", "detail"}`` each."""
    return [result.as_dict() for result in results]


def default_name(check: Mapping[str, Any]) -> str:
    """A short label for a check without a "name", e.g. ``contains 'privacy'``."""
    kind = check.get("type")
    if kind in ("contains", "not_contains"):
        return f"{kind} {_quote(check.get('value', ''))}"
    if kind == "regex":
        return f"regex /{check.get('pattern', '')}/{check.get('flags', '')}"
    if kind == "json":
        return "json (schema)" if "schema" in check else "json"
    if kind in ("max_words", "min_words"):
        return f"{kind} {check.get('value')}"
    if kind == "one_of":
        return "one_of " + ", ".join(_quote(value) for value in check.get("values", []))
    return str(kind)


# ------------------------------------------------------------------------------ runners


def _contains(text: str, check: Mapping[str, Any]) -> tuple[bool, str]:
    value = check["value"]
    haystack, needle = (text, value) if check.get("case_sensitive") else (text.casefold(), value.casefold())
    found = needle in haystack
    if check["type"] == "contains":
        return found, f"found {_quote(value)}" if found else f"missing {_quote(value)}"
    return not found, f"found forbidden {_quote(value)}" if found else f"no {_quote(value)}"


def _compile(check: Mapping[str, Any]) -> re.Pattern[str]:
    flags = re.RegexFlag(0)
    for letter in check.get("flags", ""):
        flags |= REGEX_FLAGS[letter]
    return re.compile(check["pattern"], flags)


def _regex(text: str, check: Mapping[str, Any]) -> tuple[bool, str]:
    match = _compile(check).search(text)
    if match is None:
        return False, f"no match for /{check['pattern']}/{check.get('flags', '')}"
    return True, f"matched {_quote(match.group(0))}"


def _json(text: str, check: Mapping[str, Any]) -> tuple[bool, str]:
    import jsonschema  # imported on use: most runs never validate a check

    try:
        data = extract_json(text)
    except ValueError as exc:
        return False, f"not JSON: {exc}"
    schema = check.get("schema")
    if schema is None:
        return True, "valid JSON"
    error = jsonschema.exceptions.best_match(_validator_class(schema)(schema).iter_errors(data))
    if error is not None:
        return False, f"schema: ${_path(error.absolute_path)}: {error.message}"
    return True, "valid JSON, matches schema"


def count_words(text: str) -> int:
    """Whitespace-separated words (what a reader would count, punctuation included)."""
    return len(text.split())


def _words(text: str, check: Mapping[str, Any]) -> tuple[bool, str]:
    words, limit = count_words(text), int(check["value"])
    if check["type"] == "max_words":
        return words <= limit, f"{words} words (max {limit})"
    return words >= limit, f"{words} words (min {limit})"


def _one_of(text: str, check: Mapping[str, Any]) -> tuple[bool, str]:
    answer = text.strip(_ONE_OF_TRIM)
    values: list[str] = list(check["values"])
    if check.get("case_sensitive"):
        matched = [value for value in values if value.strip() == answer]
    else:
        matched = [value for value in values if value.strip().casefold() == answer.casefold()]
    if matched:
        return True, f"answered {_quote(matched[0])}"
    return False, f"{_quote(answer)} is not one of " + ", ".join(_quote(value) for value in values)


_RUNNERS = {
    "contains": _contains,
    "not_contains": _contains,
    "regex": _regex,
    "json": _json,
    "max_words": _words,
    "min_words": _words,
    "one_of": _one_of,
}


def _validator_class(schema: Any) -> type[jsonschema.protocols.Validator]:
    import jsonschema  # imported on use: most runs never validate a check

    """The validator the schema's own "$schema" names; draft 2020-12 when it names none."""
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


def _path(parts: Iterable[str | int]) -> str:
    """``["owners", 0]`` -> ``.owners[0]``."""
    return "".join(f".{part}" if isinstance(part, str) else f"[{part}]" for part in parts)


def _quote(value: str, limit: int = 40) -> str:
    value = " ".join(str(value).split())
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def _short(detail: str) -> str:
    return one_line(detail, _DETAIL_LIMIT)
