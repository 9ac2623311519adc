"""Errors that reach the user as one clear line, never as a traceback wall."""

from __future__ import annotations


class FoundryError(Exception):
    """Base of every error pytest-foundry reports as a single line.

    The message names what failed and where (file, key, model, URL) and how to fix it.
    """


class ConfigError(FoundryError):
    """A bad option, prompts.json, models.json, annotations or gate setting."""


class ModelError(FoundryError):
    """A model could not be resolved, loaded or asked (affects that model only)."""


class RequestTimeout(ModelError):
    """A request ran past --foundry-timeout."""


class BaselineError(FoundryError):
    """A baseline is missing, corrupt or was recorded on a different machine/runtime."""


def one_line(message: str, limit: int = 300) -> str:
    """Fold a (possibly native, multi-line) message into one line of bounded length."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
