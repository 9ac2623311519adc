"""Print a pip constraints file that pins every runtime dependency to its declared floor.

Read from ``[project.dependencies]`` in pyproject.toml, so the lowest-versions job
(``tox -e lowest``, ``.ci/lowest``) always installs exactly the floors the package
declares, never a copy of them that could drift:

    python scripts/lowest_constraints.py > lowest.txt    # or: -o lowest.txt
    pip install -c lowest.txt -e .

``name>=1.2`` becomes ``name==1.2``; an exact ``==`` pin is kept; ``~=1.2`` floors at
1.2.  Extras are dropped (pip refuses them in a constraints file) and environment
markers are kept.  A dependency without a floor is an error: it has nothing to test.
Only the standard library is used, so it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

# PEP 508 without URLs: name, optional [extras], specifiers (optionally in parentheses).
_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?:\[(?P<extras>[^\]]*)\])?\s*"
    r"\(?(?P<specs>[^()]*)\)?\s*$"
)
_SPEC = re.compile(r"^(?P<op>===|==|~=|>=|<=|!=|<|>)\s*(?P<version>\S+)$")


class FloorError(ValueError):
    """A dependency whose floor cannot be read."""


def floor_pin(requirement: str) -> str:
    """``name==floor`` (plus the requirement's marker) for one PEP 508 requirement."""
    spec_part, _, marker = requirement.partition(";")
    match = _REQUIREMENT.match(spec_part.strip())
    if match is None:
        raise FloorError(f"cannot parse dependency {requirement!r}")
    name = match["name"]
    floors: list[str] = []
    for spec in filter(None, (s.strip() for s in match["specs"].split(","))):
        parsed = _SPEC.match(spec)
        if parsed is None:
            raise FloorError(f"cannot parse version specifier {spec!r} of dependency {name!r}")
        if parsed["op"] in ("==", "===", ">=", "~=") and not parsed["version"].endswith("*"):
            floors.append(parsed["version"])
    if len(floors) != 1:
        what = "no floor (>=, ~= or ==)" if not floors else f"{len(floors)} floors"
        raise FloorError(f"dependency {requirement!r} has {what}")
    pin = f"{name}=={floors[0]}"
    return f"{pin}; {marker.strip()}" if marker.strip() else pin


def floor_pins(pyproject: dict[str, Any]) -> list[str]:
    """One pin per entry of ``[project.dependencies]``, in declared order."""
    dependencies = pyproject.get("project", {}).get("dependencies")
    if not isinstance(dependencies, list) or not dependencies:
        raise FloorError("pyproject.toml declares no [project] dependencies")
    return [floor_pin(str(requirement)) for requirement in dependencies]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the declared floors as pip constraints.")
    parser.add_argument("pyproject", nargs="?", type=Path, default=PYPROJECT)
    # tox runs commands without a shell, so it cannot redirect stdout.
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    try:
        data = tomllib.loads(args.pyproject.read_text(encoding="utf-8"))
        pins = floor_pins(data)
    except (OSError, tomllib.TOMLDecodeError, FloorError) as exc:
        print(f"lowest_constraints: {args.pyproject}: {exc}", file=sys.stderr)
        return 2
    text = f"# The declared floors of {args.pyproject.name} (scripts/lowest_constraints.py).\n"
    text += "".join(f"{pin}\n" for pin in pins)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
