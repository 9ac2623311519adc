"""How the report writes numbers: for people (Markdown, HTML) and for tools (CSV).

Unknown values are "n/a", never 0.  People get units that suit the size (ms below one
second, s above; MiB; tok/s with one decimal); CSV gets one fixed unit per column, named
in its header, and no thousands separators.
"""

from __future__ import annotations

MISSING = "n/a"
MIB = 1 << 20
GIB = 1 << 30


def duration(seconds: float | None) -> str:
    if seconds is None:
        return MISSING
    if abs(seconds) < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if abs(seconds) < 1:
        return f"{seconds * 1000:.1f} ms"
    if abs(seconds) < 100:
        return f"{seconds:.2f} s"
    return f"{seconds:.1f} s"


def mebibytes(size: int | float | None, signed: bool = False) -> str:
    if size is None:
        return MISSING
    value = size / MIB
    sign = "+" if signed else ""
    return f"{value:{sign},.1f} MiB" if abs(value) < 100 else f"{value:{sign},.0f} MiB"


def gibibytes(size: int | None) -> str:
    return MISSING if size is None else f"{size / GIB:.1f} GiB"


def rate(per_second: float | None) -> str:
    return MISSING if per_second is None else f"{per_second:.1f}"


def tokens(count: float | None) -> str:
    if count is None:
        return MISSING
    return f"{count:.0f}" if float(count).is_integer() else f"{count:.1f}"


def money(cost: float | None) -> str:
    if cost is None:
        return MISSING
    return f"{cost:.4f}" if cost < 1 else f"{cost:,.2f}"


def percent(fraction: float) -> str:
    return f"{fraction * 100:.0f}%"


def csv_ms(seconds: float | None) -> str:
    return MISSING if seconds is None else f"{seconds * 1000:.3f}"


def csv_seconds(seconds: float | None) -> str:
    return MISSING if seconds is None else f"{seconds:.3f}"


def csv_mib(size: int | float | None) -> str:
    return MISSING if size is None else f"{size / MIB:.1f}"


def csv_number(value: float | None, decimals: int = 2) -> str:
    return MISSING if value is None else f"{value:.{decimals}f}"
