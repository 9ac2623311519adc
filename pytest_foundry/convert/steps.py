"""The heavy steps, each in a child process whose output goes to a log file.

Children keep torch out of the caller and give each step its own peak RSS (``wait4``).
They run offline (no Hugging Face hub) and without progress bars, with a fixed hash
seed, so a rerun writes the same bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_foundry.convert.errors import StepFailed, UnsupportedArchitecture
from pytest_foundry.convert.recipe import Recipe
from pytest_foundry.errors import one_line

CHILD_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONHASHSEED": "0",
    # The builder stamps the model with `git rev-parse HEAD` run five folders above its
    # own file: inside a virtualenv that lives in a Git checkout, that is the checkout's
    # commit, and the bytes would change with every commit.  No Git here makes it use
    # the commit its wheel was built from.
    "GIT_DIR": os.devnull,
}


@dataclass(frozen=True)
class StepResult:
    peak_rss: int | None  # bytes
    log: Path


def run_child(name: str, argv: list[str], log: Path) -> StepResult:
    """Run ``python argv...``; raise ConvertError with the log's last line on failure."""
    env = {**os.environ, **CHILD_ENV}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, *argv], stdout=out, stderr=subprocess.STDOUT, env=env)
        peak: int | None = None
        try:
            if hasattr(os, "wait4"):
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
            else:  # Windows: no per-child rusage
                proc.wait()
        except BaseException:
            # Ctrl-C or an error here: do not leave the child running.
            proc.kill()
            proc.wait()
            raise
    if proc.returncode != 0:
        reason = last_error_line(log)
        if "is not currently supported" in reason or "NotImplementedError" in reason:
            raise UnsupportedArchitecture(f"{name}: {reason}")
        raise StepFailed(f"{name} failed (exit {proc.returncode}): {reason}", log)
    return StepResult(peak, log)


def last_error_line(log: Path) -> str:
    """The line of a child's log that says what went wrong (its last non-noise line)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no log"
    for line in reversed(lines):
        text = line.strip()
        if text and not text.startswith(("File ", "^", "~", "Traceback")) and "%|" not in text:
            return one_line(text, 240)
    return "no output"


def dequantize(gguf: Path, out: Path, architecture: str, log: Path) -> StepResult:
    argv = ["-m", "pytest_foundry.convert.dequantize", str(gguf), str(out), architecture]
    return run_child("dequantize", argv, log)


def build_onnx(checkpoint: Path, out: Path, cache: Path, recipe: Recipe, log: Path) -> StepResult:
    argv = [
        "-m",
        "onnxruntime_genai.models.builder",
        "-i",
        str(checkpoint),
        "-o",
        str(out),
        "-p",
        recipe.precision,
        "-e",
        recipe.execution_provider,
        "-c",
        str(cache),
    ]
    if recipe.builder_options:
        argv += ["--extra_options", *(f"{key}={value}" for key, value in recipe.builder_options)]
    return run_child("onnxruntime-genai builder", argv, log)
