"""The run's inputs, resolved once: settings, prompts, model requests, gate policy, baseline.

Pure: no pytest.  Everything a user can get wrong in a file or an option is read and
checked here, before any model loads, so a mistake fails the run at once (ConfigError /
BaselineError, one line) instead of after the tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_foundry.errors import ConfigError
from pytest_foundry.model_config import ModelsFile, load_models_file
from pytest_foundry.model_selection import default_model_names, model_requests
from pytest_foundry.options import Settings
from pytest_foundry.prompts import PromptSpec, load_prompts
from pytest_foundry.runtime.base import ModelRequest

if TYPE_CHECKING:
    from pytest_foundry.gate.policy import GatePolicy
    from pytest_foundry.quality.annotations import Annotations
    from pytest_foundry.results import Results


@dataclass(frozen=True)
class RunInputs:
    settings: Settings
    prompts: tuple[PromptSpec, ...]
    models_file: ModelsFile | None
    requests: tuple[ModelRequest, ...]  # the models under test, in the order given
    judge: ModelRequest | None  # the judge model, when --foundry-judge names one
    gate_policy: GatePolicy
    baseline: Results | None  # what --foundry-compare names, loaded
    annotations: Annotations | None
    # Where relative model folders of models.json and --foundry-judge start from.
    base_dir: Path

    @property
    def backend(self) -> str:
        return "endpoint" if self.settings.endpoint else "foundry-local"

    def prompt(self, prompt_id: str) -> PromptSpec | None:
        return next((p for p in self.prompts if p.id == prompt_id), None)


def _check_writable_folder(folder: Path, option: str, *, create: bool = True) -> None:
    """The folder (or its nearest existing parent) can take files; else ConfigError.

    Checked before any model loads, so a run never measures for minutes and then fails
    to save what it measured."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ConfigError(f"{option}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option}: {existing} is not writable")
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{option}: cannot create {folder} ({exc.strerror})") from None


def _check_judge(judge: ModelRequest, settings: Settings) -> None:
    """The judge resolves, checked before the run (it is loaded only after the tests): a
    folder must be a model folder; a catalog name must be in a catalog (one bounded probe)."""
    from pytest_foundry.runtime.embedded import EMBEDDED_NAMES

    name = judge.model_id or judge.requested
    if judge.path is not None:
        if not (judge.path / "genai_config.json").is_file():
            raise ConfigError(f"--foundry-judge: {judge.path} is not an ONNX Runtime GenAI model folder")
        return
    if settings.endpoint or name in EMBEDDED_NAMES:
        return  # an endpoint's models are listed when it is first asked
    from pytest_foundry.runtime.catalog import probe, split_device

    variants, failures = probe(settings.catalog, split_device(name)[0])
    if not variants:
        why = f"catalog unreachable ({'; '.join(failures)})" if failures else "not in the catalog"
        raise ConfigError(f"--foundry-judge: {name}: not a model folder, and {why}")


def load_inputs(settings: Settings, base_dir: Path) -> RunInputs:
    """Read and check every input file the settings name (raises FoundryError, one line)."""
    from pytest_foundry.gate.policy import parse_gate_spec

    models_file = load_models_file(settings.models_file) if settings.models_file else None
    names = settings.models or default_model_names(models_file)
    requests = model_requests(names, models_file, settings.models_base_dir if settings.models else base_dir)
    judge = model_requests([settings.judge], models_file, base_dir)[0] if settings.judge else None
    if settings.save:
        from pytest_foundry.gate.baselines import check_name

        check_name(settings.save)  # before the run, not after it: "../evil" never gets far
    if settings.lockstep is not None:
        _check_writable_folder(settings.lockstep.parent, "--foundry-lockstep")
    if settings.report_dir is not None and settings.report_given:
        _check_writable_folder(settings.report_dir, "--foundry-report", create=False)
    if judge is not None:
        _check_judge(judge, settings)
    baseline = None
    if settings.compare:
        from pytest_foundry.gate.baselines import load_baseline, resolve_baseline

        baseline = load_baseline(resolve_baseline(settings.compare, settings.baseline_dir))
    annotations = None
    if settings.annotations:
        from pytest_foundry.quality.annotations import load_annotations

        annotations = load_annotations(settings.annotations, missing_ok=True)
    return RunInputs(
        settings=settings,
        prompts=tuple(load_prompts(settings.prompts_file)),
        models_file=models_file,
        requests=tuple(requests),
        judge=judge,
        gate_policy=parse_gate_spec(settings.gate),
        baseline=baseline,
        annotations=annotations,
        base_dir=base_dir,
    )
