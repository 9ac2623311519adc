"""pytest-foundry: benchmark, snapshot and regression-test local LLMs with Foundry Local.

Importing this package has no pytest side effects and does not load the native runtime.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
