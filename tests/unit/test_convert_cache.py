"""The real-model cache: keying, atomic publishing, the lock, cleanup after a failure."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from convert_factory import write_gguf

from pytest_foundry.convert import cache, extra, folder, pipeline, publish, steps
from pytest_foundry.convert.errors import OutputNotEmpty
from pytest_foundry.convert.recipe import RECIPE_VERSION, Recipe
from pytest_foundry.convert.sources import input_sha256, resolve_source


def complete_folder(path: Path, source_text: str) -> Path:
    """A folder as convert leaves it (config + provenance), without running the builder."""
    path.mkdir(parents=True)
    (path / "genai_config.json").write_text(json.dumps({"model": {}, "search": {}}))
    source = resolve_source(source_text)
    folder.write_provenance(path, source, input_sha256(source), Recipe(), {}, [])
    return path


def test_cache_root_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "models"))
    assert cache.default_cache_root() == tmp_path / "models"
    monkeypatch.delenv(cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_root() == tmp_path / "xdg" / "pytest-foundry" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.default_cache_root() == Path.home() / ".cache" / "pytest-foundry" / "models"


def test_cache_path_is_keyed_by_input_hash_and_recipe(tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "m.gguf")
    root = tmp_path / "cache"
    first = cache.cached_path(str(gguf), root)
    assert first.parent.parent == root
    assert first.parent.name.startswith(
        f"m-r{RECIPE_VERSION}-" + input_sha256(resolve_source(str(gguf)))[:16]
    )
    assert first.name == "m"  # the model keeps its name: ids and reports derive from it
    assert cache.cached_path(str(gguf), root, Recipe(context=1024)) != first
    gguf.write_bytes(gguf.read_bytes() + b"\0" * 32)  # other bytes, other key
    assert cache.cached_path(str(gguf), root) != first


def test_a_complete_cached_folder_is_served_without_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gguf = str(write_gguf(tmp_path / "m.gguf"))
    root = tmp_path / "cache"
    built = complete_folder(cache.cached_path(gguf, root), gguf)
    # Building would need the extra; a hit must not get that far.
    monkeypatch.setattr(extra, "REQUIRED", (("pytest_foundry_no_such_module", "x"),))
    assert cache.ensure_converted(gguf, root) == built


def test_a_half_folder_is_not_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = str(write_gguf(tmp_path / "m.gguf"))
    root = tmp_path / "cache"
    half = cache.cached_path(gguf, root)
    half.mkdir(parents=True)
    (half / "genai_config.json").write_text("{}")  # no provenance: not complete
    monkeypatch.setattr(extra, "REQUIRED", (("pytest_foundry_no_such_module", "x"),))
    with pytest.raises(extra.MissingExtra):
        cache.ensure_converted(gguf, root)


def test_publish_renames_the_staged_folder_into_place(tmp_path: Path) -> None:
    final = tmp_path / "model"
    staged = publish.staging_path(final)
    staged.mkdir()
    (staged / "a").write_text("new")
    publish.publish(staged, final, force=False)
    assert (final / "a").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_publish_into_an_empty_folder(tmp_path: Path) -> None:
    final = tmp_path / "model"
    final.mkdir()
    staged = publish.staging_path(final)
    staged.mkdir()
    (staged / "a").write_text("new")
    publish.publish(staged, final, force=False)
    assert (final / "a").read_text() == "new"


def test_publish_replaces_only_with_force(tmp_path: Path) -> None:
    final = tmp_path / "model"
    final.mkdir()
    (final / "old").write_text("old")
    staged = publish.staging_path(final)
    staged.mkdir()
    (staged / "a").write_text("new")
    with pytest.raises(OutputNotEmpty):
        publish.publish(staged, final, force=False)
    assert (final / "old").exists()
    publish.publish(staged, final, force=True)
    assert [p.name for p in final.iterdir()] == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_staging_names_never_collide_and_are_swept(tmp_path: Path) -> None:
    final = tmp_path / "model"
    names = {publish.staging_path(final) for _ in range(50)}
    assert len(names) == 50
    for path in list(names)[:3]:
        path.mkdir()
    publish.work_path(final)
    (tmp_path / ".other.partial-1").mkdir()
    assert len(publish.sweep_partials(final)) == 4
    assert [p.name for p in tmp_path.iterdir()] == [".other.partial-1"]


def test_the_lock_makes_a_second_builder_wait(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "m.lock"
    events: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with publish.locked(lock):
            holding.set()
            time.sleep(0.3)
            events.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(5)
    with publish.locked(lock, on_wait=lambda: events.append("second waits")):
        events.append("second in")
    thread.join()
    assert events == ["second waits", "first done", "second in"]


def test_a_free_lock_is_taken_without_waiting(tmp_path: Path) -> None:
    waited: list[bool] = []
    with publish.locked(tmp_path / "m.lock", on_wait=lambda: waited.append(True)):
        pass
    assert waited == []


def test_an_interrupted_conversion_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the builder: no output folder, no staging or work folder.

    The steps need torch; here they are replaced by ones that write partial files and
    are interrupted, which is what the pipeline has to clean up after.
    """
    gguf = str(write_gguf(tmp_path / "m.gguf"))
    out = tmp_path / "out" / "model"
    monkeypatch.setattr(extra, "check_extra", lambda: None)

    def fake_dequantize(src: Path, dst: Path, arch: str, log: Path) -> steps.StepResult:
        dst.mkdir()
        (dst / "model.safetensors").write_bytes(b"x" * 100)
        return steps.StepResult(None, log)

    def interrupted_build(
        ckpt: Path, dst: Path, cache_dir: Path, recipe: Recipe, log: Path
    ) -> steps.StepResult:
        dst.mkdir()
        (dst / "model.onnx").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(steps, "dequantize", fake_dequantize)
    monkeypatch.setattr(steps, "build_onnx", interrupted_build)
    with pytest.raises(KeyboardInterrupt):
        pipeline.convert(gguf, out, Recipe())
    assert list((tmp_path / "out").iterdir()) == []
