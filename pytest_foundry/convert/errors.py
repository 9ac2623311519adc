"""The one-line errors a conversion can end with (all are ``FoundryError``: exit 2)."""

from __future__ import annotations

from pytest_foundry.errors import FoundryError


class ConvertError(FoundryError):
    """A conversion failed for a reason the user can act on."""


class MissingExtra(ConvertError):
    """A module of the ``[convert]`` extra is not installed."""


class UnsupportedArchitecture(ConvertError):
    """The source is a model family the recipe cannot build."""


class CorruptInput(ConvertError):
    """The source file is truncated, not what its name says, or unreadable."""


class OutputNotEmpty(ConvertError):
    """--output names a folder that exists and holds files (and --force was not given)."""


class StepFailed(ConvertError):
    """A conversion step (a child process) failed; its log is at ``log``."""

    def __init__(self, summary: str, log: object) -> None:
        super().__init__(f"{summary} (log: {log})")
        self.summary = summary
        self.log = log
