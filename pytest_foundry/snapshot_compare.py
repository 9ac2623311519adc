"""How an output is compared with its snapshot: exactly, or forgiving the drift real models show.

Pure: no pytest.  Modes, per prompt (``"compare"`` in prompts.json) or for the run
(``--foundry-snapshot-compare``):

* ``exact`` (the default): the text as stored;
* ``whitespace``: runs of whitespace count as one space, and leading/trailing ones as none;
* ``no_reasoning``: ``<think>...</think>`` blocks (a reasoning model's thinking) are left out;
* ``first_tokens:N``: only the first N whitespace-separated tokens count.

The stored file keeps the whole text; the mode is written in its header, so a reviewer
sees how it is judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_foundry.errors import ConfigError

MODES = ("exact", "whitespace", "no_reasoning", "first_tokens")
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)
# How much of each side the first-difference line quotes.
QUOTE_LIMIT = 40


@dataclass(frozen=True)
class CompareMode:
    kind: str = "exact"
    tokens: int | None = None  # for first_tokens

    def __str__(self) -> str:
        return f"first_tokens:{self.tokens}" if self.kind == "first_tokens" else self.kind

    @property
    def exact(self) -> bool:
        return self.kind == "exact"


EXACT = CompareMode()


def parse_mode(text: str, source: str) -> CompareMode:
    """``"whitespace"``, ``"first_tokens:20"``, ...; a bad value is a one-line ConfigError."""
    kind, _, count = text.strip().partition(":")
    if kind not in MODES:
        raise ConfigError(f"{source}: snapshot comparison {text!r}: expected one of {', '.join(MODES)}")
    if kind == "first_tokens":
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"{source}: snapshot comparison {text!r}: write first_tokens:N with N >= 1")
        return CompareMode(kind, int(count))
    if count:
        raise ConfigError(f"{source}: snapshot comparison {text!r}: {kind} takes no ':N'")
    return CompareMode(kind)


def without_reasoning(text: str) -> str:
    """The text with ``<think>...</think>`` blocks (an unclosed one to the end) left out."""
    return _THINK.sub("", text)


def reasoning_text(text: str) -> str:
    """The ``<think>...</think>`` blocks of ``text``, tags and all."""
    return "".join(match.group(0) for match in _THINK.finditer(text))


def normalise(text: str, mode: CompareMode) -> str:
    """What of ``text`` the comparison looks at."""
    if mode.kind == "whitespace":
        return " ".join(text.split())
    if mode.kind == "no_reasoning":
        return without_reasoning(text).strip()
    if mode.kind == "first_tokens":
        return " ".join(text.split()[: mode.tokens])
    return text


def same(snapshot: str, output: str, mode: CompareMode) -> bool:
    return normalise(snapshot, mode) == normalise(output, mode)


def first_difference(snapshot: str, output: str) -> str | None:
    """Where two texts first differ, by whitespace-separated token, or None when equal."""
    before, after = snapshot.split(), output.split()
    for index, (a, b) in enumerate(zip(before, after, strict=False)):
        if a != b:
            return f"first difference at token {index + 1}: {_quote(a)} in the snapshot, {_quote(b)} now"
    if len(before) == len(after):
        return None if snapshot == output else "the texts differ only in whitespace"
    if len(before) > len(after):
        more = _quote(before[len(after)])
        return f"the output ends after token {len(after)}; the snapshot goes on with {more}"
    more = _quote(after[len(before)])
    return f"the snapshot ends after token {len(before)}; the output goes on with {more}"


def _quote(token: str) -> str:
    return repr(token if len(token) <= QUOTE_LIMIT else token[: QUOTE_LIMIT - 1] + "…")
