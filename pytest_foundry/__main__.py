"""``python -m pytest_foundry``: the same command line as ``pytest-foundry``."""

from __future__ import annotations

from pytest_foundry.cli import main

raise SystemExit(main())
