"""pytest-xdist support: one model per worker, one turn for timed requests, one record.

Part of the plugin layer (it knows pytest's and xdist's objects); ``plugin.py`` registers
:class:`ControllerHooks` only where pytest-xdist is installed, so a run without it never
sees these hooks.  How a ``-n N`` run goes:

* ``-n N`` without ``--dist`` means ``--dist loadgroup`` (:func:`choose_dist`), and every
  case is marked ``xdist_group`` by its model (:func:`group_name`): a model is loaded by
  one worker, which runs all of its cases.  Another ``--dist`` mode would load a model on
  several workers and mix their figures: the model's cases fail with that reason.
* The controller makes a turn folder and hands it to every worker (``workerinput``);
  the workers' timed requests take the turn alone, untimed work shares it
  (shared_turn.py).
* Each worker sends its cells and model figures through ``workeroutput``
  (worker_records.py); the controller merges them as each worker goes down, then
  writes the one results.json, report, baseline and gate, and prints the table.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_foundry.errors import ConfigError

if TYPE_CHECKING:
    from pytest_foundry.session import FoundrySession

PAYLOAD_KEY = "pytest_foundry"  # workeroutput: the worker's records (worker_records.py)
TURN_KEY = "pytest_foundry_turn"  # workerinput: the turn folder
DIST_KEY = "pytest_foundry_dist"  # workerinput: the controller's --dist mode
GROUPED_DIST = "loadgroup"


def choose_dist(config: pytest.Config) -> None:
    """``-n N`` without ``--dist``: loadgroup, so each model's cases go to one worker.

    Runs before xdist's own ``pytest_cmdline_main`` (which would pick ``load``).  Cases
    without an ``xdist_group`` mark (any test that uses no foundry model) are spread one
    by one, as ``load`` spreads them.
    """
    option = config.option
    numprocesses = getattr(option, "numprocesses", None)
    if numprocesses and getattr(option, "dist", "no") == "no" and not getattr(option, "distload", False):
        option.dist = GROUPED_DIST


def start_xdist(config: pytest.Config, session: FoundrySession) -> None:
    """At configure time: a worker joins the shared turn; a controller that distributes
    registers its hooks (a run without ``-n`` registers nothing)."""
    if is_worker(config):
        start_worker(config, session)
        return
    if getattr(config.option, "dist", "no") == "no" or getattr(config.option, "collectonly", False):
        return
    if session.settings.lockstep is not None:
        raise ConfigError(
            "--foundry-lockstep pairs one run with one other run: it cannot take turns for several "
            "pytest-xdist workers; run it without -n"
        )
    config.pluginmanager.register(ControllerHooks(session), "foundry-xdist-controller")


def grouped_params(slugs: list[str]) -> list[Any]:
    """The ``foundry_model`` parameters, each marked ``xdist_group`` by its model."""
    return [pytest.param(slug, marks=pytest.mark.xdist_group(group_name(slug))) for slug in slugs]


def group_name(slug: str) -> str:
    """The ``xdist_group`` of a model's cases.  xdist splits a node id at its last "@",
    and a slug may hold one (``phi-4@1``): ":" never appears in a slug, so it stands in."""
    return "foundry:" + slug.replace("@", ":")


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_dist(config: pytest.Config) -> str | None:
    """On a worker, the controller's ``--dist`` mode; None elsewhere."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput.get(DIST_KEY, GROUPED_DIST))


def ungrouped_reason(config: pytest.Config) -> str | None:
    """Why a worker must not load a model: the run is not grouped by model."""
    dist = worker_dist(config)
    if dist is None or dist == GROUPED_DIST:
        return None
    return (
        f"pytest-foundry needs --dist {GROUPED_DIST} under pytest-xdist (the mode it picks for -n "
        f"when --dist is not given): --dist {dist} would load a model on several workers and mix "
        "their figures"
    )


def start_worker(config: pytest.Config, session: FoundrySession) -> None:
    """On a worker: take timed turns with the other workers of the run."""
    from pytest_foundry.shared_turn import SharedTurn

    workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
    if workerinput.get(DIST_KEY) == GROUPED_DIST:
        # A worker parses the command line anew: a loadgroup that choose_dist picked on
        # the controller must reach the worker's collection, which names each case's group.
        config.option.loadgroup = True
    folder = workerinput.get(TURN_KEY)
    if folder:
        session.shared_turn = SharedTurn(Path(folder))


def send_records(config: pytest.Config, session: FoundrySession, errors: tuple[str, ...]) -> None:
    """On a worker, at the end of its session: the records go to the controller."""
    config.workeroutput[PAYLOAD_KEY] = session.worker_records(errors)  # type: ignore[attr-defined]


class ControllerHooks:
    """The controller's side: hand out the turn folder, merge what the workers send."""

    def __init__(self, session: FoundrySession) -> None:
        self._session = session
        self._turn_folder: Path | None = None

    def pytest_configure_node(self, node: Any) -> None:
        if self._turn_folder is None:
            self._turn_folder = Path(tempfile.mkdtemp(prefix="pytest-foundry-turn-"))
        node.workerinput[TURN_KEY] = str(self._turn_folder)
        node.workerinput[DIST_KEY] = str(node.config.getoption("dist", GROUPED_DIST))

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        # A worker that crashed sent nothing: merge_worker says its cells are missing.
        output = getattr(node, "workeroutput", None) or {}
        self._session.merge_worker(str(node.gateway.id), output.get(PAYLOAD_KEY))

    def pytest_unconfigure(self) -> None:
        if self._turn_folder is not None:
            shutil.rmtree(self._turn_folder, ignore_errors=True)
            self._turn_folder = None
