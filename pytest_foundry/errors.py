"""Errors that reach the user as one clear line, never as a traceback wall."""

from __future__ import annotations

import re


class FoundryError(Exception):
    """Base of every error pytest-foundry reports as a single line.

    The message names what failed and where (file, key, model, URL) and how to fix it.
    ``detail`` keeps the whole original text (a native message with its C++ signature,
    a server's full error body) for results.json, where the one line had to shorten it.
    """

    def __init__(self, message: str = "", *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class ConfigError(FoundryError):
    """A bad option, prompts.json, models.json, annotations or gate setting."""


class ModelError(FoundryError):
    """A model could not be resolved, loaded or asked (affects that model only)."""


class ModelUnavailable(ModelError):
    """The model exists, but not for this machine's devices: its tests skip, with why."""


class RequestTimeout(ModelError):
    """A request ran past --foundry-timeout."""


class ConnectionFailed(ModelError):
    """The server could not be reached, or dropped the connection (refused, reset,
    closed mid-stream): the model's later requests would meet the same."""


class BaselineError(FoundryError):
    """A baseline is missing, corrupt or was recorded on a different machine/runtime."""


def one_line(message: str, limit: int = 300) -> str:
    """Fold a (possibly native, multi-line) message into one line of bounded length."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Native (Foundry Local, onnxruntime-genai) messages carry "file.cc:123" locations and
# C++ signatures ("static std::unique_ptr<Generators::KV_Cache> Generators::Create(...)")
# that push the actual reason past the one-line limit: users need only the reason.
_LOCATION = re.compile(
    r"(?:^|(?<=\s))(?:\[[^\]\n]*\]\s*)*[\w./\\-]+\.(?:cc|cpp|cxx|c|h|hpp|inl):\d+(?::\d+)?\s*:?\s*"
)
_TRAILING_QUALIFIERS = re.compile(
    r"(?:\s*(?:const\b|noexcept\b|override\b|final\b|volatile\b|&&|&))*\s*:?\s*"
)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:~*&")
_MAX_SIGNATURE_TOKENS = 8


def _signature_end(text: str, start: int) -> int | None:
    """Where a C++ function signature starting at ``start`` ends, or None when the text
    there is not one.  A signature is up to a few type tokens (templates balanced, spaces
    allowed inside ``<>``), a qualified name (``ns::f``) directly followed by a balanced
    argument list, and optional trailing qualifiers."""
    pos, tokens, length = start, 0, len(text)
    while tokens < _MAX_SIGNATURE_TOKENS:
        token_start, depth, qualified = pos, 0, False
        while pos < length:
            char = text[pos]
            if char == "<":
                depth += 1
            elif char == ">" and depth:
                depth -= 1
            elif depth == 0 and (char == "(" or char.isspace()):
                break
            elif depth == 0 and char not in _NAME_CHARS:
                return None
            elif depth == 0 and char == ":" and text.startswith("::", pos):
                qualified = True
            pos += 1
        if pos == token_start or pos >= length or depth:
            return None
        tokens += 1
        if text[pos] == "(":
            if not qualified:
                return None
            nesting = 0
            while pos < length:
                nesting += {"(": 1, ")": -1}.get(text[pos], 0)
                pos += 1
                if nesting == 0:
                    match = _TRAILING_QUALIFIERS.match(text, pos)
                    return match.end() if match else pos
            return None
        while pos < length and text[pos].isspace():
            pos += 1
    return None


def strip_native(text: str) -> str:
    """``text`` without native source locations and the C++ signatures after them (or at
    its start); everything else, the reason above all, is kept whole."""
    out: list[str] = []
    pos = 0
    start_of_text = True
    while True:
        match = _LOCATION.search(text, pos)
        stop = match.start() if match else len(text)
        if start_of_text:
            # A signature may also open the message without a location before it.
            end = _signature_end(text, pos)
            if end is not None and end <= stop:
                pos = end
        out.append(text[pos:stop])
        if match is None:
            break
        pos = match.end()
        end = _signature_end(text, pos)
        if end is not None:
            pos = end
        start_of_text = False
    return "".join(out)


def native_message(message: object) -> str:
    """The meaningful part of a native error message (or exception), as one line."""
    text = " ".join(strip_native(str(message)).split())
    return one_line(text or (type(message).__name__ if isinstance(message, BaseException) else "error"))
