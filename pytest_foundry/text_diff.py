"""The one unified diff of two texts, for snapshots and changed outputs alike (pure)."""

from __future__ import annotations

import difflib


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    """A unified diff of ``before`` -> ``after``, one line per line; "" when they are equal.

    Lines are compared without their endings, so a last line without a newline never
    runs into the next diff line."""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), before_name, after_name, lineterm=""
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""
