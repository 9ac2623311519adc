"""Loading the plugin costs nothing: no heavy library is imported with it."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("openai", "httpx", "jsonschema", "psutil", "matplotlib", "scipy", "numpy", "foundry_local_sdk")


def _imported_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_plugin_imports_no_heavy_module():
    assert _imported_after("import pytest_foundry.plugin") == []


def test_configuring_a_run_with_the_defaults_imports_no_heavy_module(tmp_path):
    # The run's inputs are resolved at configure time; with the defaults that needs none.
    (tmp_path / "test_trivial.py").write_text("def test_one():\n    assert True\n", encoding="utf-8")
    code = (
        "import pytest\n"
        f"pytest.main([{str(tmp_path)!r}, '-q', '-p', 'no:cacheprovider', '-p', 'no:hypothesispytest', "
        "'-p', 'no:benchmark', '-p', 'no:syrupy', '--foundry-report=none'])"
    )
    assert _imported_after(code) == []
