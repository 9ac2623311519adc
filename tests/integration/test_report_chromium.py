"""report.html in a real browser: headless Chromium renders the tables and the four charts.

Skipped only when no Chromium binary is installed (CI installs Debian's ``chromium``).
The browser gets no network: the page must render from the file alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pytest_foundry.report.writer import write_report
from pytest_foundry.results_file import load_results

FIXTURE = Path(__file__).resolve().parents[1] / "unit" / "data" / "results.json"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1280, 2400


def _chromium() -> str:
    override = os.environ.get("FOUNDRY_CHROMIUM")
    found = override or next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if not found:
        pytest.skip(f"no Chromium binary found (looked for {', '.join(BROWSERS)}; apt-get install chromium)")
    return found


def _run(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        browser,
        "--headless",
        "--no-sandbox",  # CI runs as root, where the sandbox cannot start
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    browser = _chromium()
    root = tmp_path_factory.mktemp("chromium")
    write_report(load_results(FIXTURE), root / "report", ["html"])
    return browser, root, (root / "report" / "report.html")


def test_svg_charts_are_in_the_rendered_dom(rendered: tuple[str, Path, Path]) -> None:
    browser, root, page = rendered
    done = _run(browser, root / "profile-dom", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert dom.count("<svg") == 4, dom[:500]
    assert dom.count("<table") == 3
    assert "phi-3.5-mini" in dom
    assert "load-failed" in dom


def test_screenshot_is_a_real_picture(rendered: tuple[str, Path, Path]) -> None:
    import matplotlib.image

    browser, root, page = rendered
    shot = root / "report.png"
    done = _run(
        browser,
        root / "profile-shot",
        f"--screenshot={shot}",
        f"--window-size={WIDTH},{HEIGHT}",
        page.as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.is_file()
    assert shot.stat().st_size > 50_000
    pixels = np.asarray(matplotlib.image.imread(shot))[..., :3]
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    # Not one flat colour: text, tables and charts give many distinct colours and contrast.
    assert pixels.std() > 0.05
    assert len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 100
    # The charts sit below the selection table: the band where they are is far from blank.
    band = pixels[900:1500]
    assert (band < 0.9).mean() > 0.02
    keep = os.environ.get("FOUNDRY_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
