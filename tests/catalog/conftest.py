"""Helpers for the catalog tests: the emulator and the sealed-namespace driver.

``tests/support`` holds test-support modules, not tests; it is put on ``sys.path`` here
(the test folders are not packages).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parents[1] / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

from sealed import Sealed, make_sealed, sealing_problem  # noqa: E402


@pytest.fixture(scope="session")
def sealing() -> None:
    problem = sealing_problem()
    if problem is not None:
        pytest.skip(f"no loopback-only network namespace: {problem}")


@pytest.fixture
def sealed(sealing: None, tmp_path: Path) -> Sealed:
    return make_sealed(tmp_path)
