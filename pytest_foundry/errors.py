"""Errors that reach the user as one clear line, never as a traceback wall."""

from __future__ import annotations

import re


class FoundryError(Exception):
    """Base of every error pytest-foundry reports as a single line.

    The message names what failed and where (file, key, model, URL) and how to fix it.
    """


class ConfigError(FoundryError):
    """A bad option, prompts.json, models.json, annotations or gate setting."""


class ModelError(FoundryError):
    """A model could not be resolved, loaded or asked (affects that model only)."""


class ModelUnavailable(ModelError):
    """The model exists, but not for this machine's devices: its tests skip, with why."""


class RequestTimeout(ModelError):
    """A request ran past --foundry-timeout."""


class BaselineError(FoundryError):
    """A baseline is missing, corrupt or was recorded on a different machine/runtime."""


def one_line(message: str, limit: int = 300) -> str:
    """Fold a (possibly native, multi-line) message into one line of bounded length."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Native (Foundry Local) messages start with "file.cc:123 " or similar, and C++
# signatures ("int fl::ValidateGeneratorRequestBudget(int64_t, int, int)") would push
# the actual reason past the one-line limit: users need only the rest.
_NATIVE_PREFIX = re.compile(r"^\s*(\[[^\]]*\]\s*)*([\w./\\-]+\.(cc|cpp|h|hpp):\d+\s*:?\s*)")
_CPP_SIGNATURE = re.compile(r"^(?:[\w:<>*&]+\s+)?(?:\w+::)+~?\w+\([^()]*\)\s*")


def native_message(message: object) -> str:
    """The meaningful part of a native error message (or exception), as one line."""
    text = _CPP_SIGNATURE.sub("", _NATIVE_PREFIX.sub("", str(message))).strip()
    return one_line(text or (type(message).__name__ if isinstance(message, BaseException) else "error"))
