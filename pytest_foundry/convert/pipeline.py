"""convert(): resolve, check, dequantize, build, write the folder, publish.

Every check a user can fail (output folder, source, architecture, chat template,
context, the extra) runs before the first slow step.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytest_foundry.convert import extra, folder, publish, steps
from pytest_foundry.convert.errors import ConvertError, StepFailed
from pytest_foundry.convert.progress import Progress, format_bytes
from pytest_foundry.convert.recipe import Recipe
from pytest_foundry.convert.sources import Source, input_sha256, resolve_source


@dataclass(frozen=True)
class ConvertResult:
    folder: Path
    seconds: float
    peak_rss: int | None  # bytes: the largest of this process and its step processes
    size: int  # bytes of the folder
    digest: str  # folder_digest() of the result
    input_sha256: str
    warnings: tuple[str, ...]


def check_source(source: Source, recipe: Recipe, chat_template: str | None) -> str:
    """The chat template to use; raise for a missing one or a context the model lacks."""
    template = chat_template or source.chat_template
    if not template:
        raise ConvertError(
            f"{source.path}: the source carries no chat template (a base model?): Foundry Local "
            "chat needs one; pass it with --chat-template FILE"
        )
    if source.context_length is not None and recipe.context > source.context_length:
        raise ConvertError(
            f"--context {recipe.context} is longer than the model's context of {source.context_length}"
        )
    if recipe.context < 16:
        raise ConvertError(f"--context {recipe.context} is too small (at least 16 tokens)")
    return template


def convert(
    source_text: str,
    output: Path,
    recipe: Recipe,
    *,
    force: bool = False,
    chat_template: str | None = None,
    progress: Progress | None = None,
    keep_work: bool = False,
) -> ConvertResult:
    progress = progress or Progress(quiet=True)
    output = output.expanduser().absolute()
    publish.check_output(output, force)
    source = resolve_source(source_text)
    template = check_source(source, recipe, chat_template)
    extra.check_extra()
    progress.step(
        f"convert {source_text} -> {output} ({recipe.precision}, {recipe.execution_provider}, "
        f"context {recipe.context})"
    )
    progress.step(
        f"source: {source.label} ({format_bytes(_input_size(source))}, {source.architecture}, "
        f"licence {source.licence or 'not stated'})"
    )
    sha = input_sha256(source)
    progress.step(f"sha256 {sha}")
    output.parent.mkdir(parents=True, exist_ok=True)
    staged = publish.staging_path(output)
    work = publish.work_path(output)
    warnings: list[str] = []
    try:
        checkpoint = source.path
        if source.kind != "checkpoint":
            checkpoint = work / "checkpoint"
            _timed(
                progress,
                "dequantize the GGUF to an fp32 checkpoint (transformers)",
                lambda: steps.dequantize(
                    source.path, checkpoint, source.architecture, work / "dequantize.log"
                ),
            )
        tools = extra.tool_versions()
        builder = tools.get("onnxruntime-genai", "?")
        _timed(
            progress,
            f"build the {recipe.precision} ONNX model (the model builder of onnxruntime-genai {builder})",
            lambda: steps.build_onnx(
                checkpoint, staged, work / "builder-cache", recipe, work / "builder.log"
            ),
        )
        folder.set_context(staged, recipe.context)
        folder.set_chat_template(staged, template)
        licences = folder.copy_licences(staged, source.licence_files)
        if not licences:
            warnings.append(
                f"no licence file found with {source.label}: check its terms before sharing the folder"
            )
        folder.write_provenance(staged, source, sha, recipe, tools, licences)
        progress.step(
            f"folder: max_length {recipe.context}, chat template in tokenizer_config.json, "
            f"licence files: {', '.join(licences) or 'none'}, provenance.json"
        )
        digest = folder.folder_digest(staged)
        publish.publish(staged, output, force=force)
    except StepFailed as exc:
        # The work folder goes away: keep the failed step's log where the user looks.
        kept = output.parent / f"{output.name}.convert.log"
        shutil.copyfile(str(exc.log), kept)
        raise ConvertError(f"{exc.summary} (log: {kept})") from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        if keep_work:
            progress.step(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for warning in warnings:
        progress.step(f"warning: {warning}")
    return ConvertResult(
        folder=output,
        seconds=progress.elapsed,
        peak_rss=progress.peak_rss,
        size=folder.folder_size(output),
        digest=digest,
        input_sha256=sha,
        warnings=tuple(warnings),
    )


def _input_size(source: Source) -> int:
    if source.kind == "checkpoint":
        return folder.folder_size(source.path)
    return source.path.stat().st_size


def _timed(progress: Progress, what: str, run: Callable[[], steps.StepResult]) -> None:
    progress.step(f"{what} ...")
    start = progress.elapsed
    result = run()
    progress.note_peak(result.peak_rss)
    peak = f", peak RSS {format_bytes(result.peak_rss)}" if result.peak_rss else ""
    progress.step(f"  done in {progress.elapsed - start:.1f}s{peak}")
