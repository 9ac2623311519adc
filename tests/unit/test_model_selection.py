"""Model selection: model requests and their slugs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_foundry.errors import ConfigError
from pytest_foundry.model_config import load_models_file
from pytest_foundry.model_selection import default_model_names, model_requests, model_slug
from pytest_foundry.runtime.embedded import EMBEDDED_ALIAS, EMBEDDED_MODEL_ID


# -- slugs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("tiny", "tiny"),
        ("phi-4:1", "phi-4@1"),
        ("phi-41", "phi-41"),
        ("qwen2.5-0.5b", "qwen2.5-0.5b"),
        ("Phi-3.5-mini-instruct-generic-cpu:2", "Phi-3.5-mini-instruct-generic-cpu@2"),
        ("my model", "my_model"),
        ("org/model", "org_model"),
        ('a\\b*c?d"e<f>g|h', "a_b_c_d_e_f_g_h"),
        (".hidden.", "hidden"),
        ("..", "model"),
        ("", "model"),
    ],
)
def test_model_slug(name, slug):
    assert model_slug(name) == slug


def test_version_colon_does_not_collide_with_the_name_without_it():
    # Single-file snapshot names drop ':' ("phi-4:1" -> "phi-41"); our slugs must not.
    assert model_slug("phi-4:1") != model_slug("phi-41")


@pytest.mark.parametrize("name", ["phi-4:1", "a/b\\c", "x y", "m<>|", "ünïcödé"])
def test_slugs_are_safe_in_file_names_and_test_ids(name):
    slug = model_slug(name)
    assert slug
    assert all(ch.isascii() and (ch.isalnum() or ch in "._@-") for ch in slug)
    assert not slug.startswith((".", "_"))


# -- requests ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tiny", EMBEDDED_MODEL_ID, EMBEDDED_MODEL_ID.split(":")[0]])
def test_every_name_of_the_embedded_model_gives_the_tiny_slug(name, tmp_path):
    (request,) = model_requests([name], None, tmp_path)
    assert request.slug == EMBEDDED_ALIAS
    assert request.requested == name
    assert request.path is None
    assert request.license == "MIT"
    assert "chat" in request.capabilities


def test_folders_are_resolved_against_the_base_folder_and_named_after_their_basename(tmp_path):
    (tmp_path / "models" / "tiny-b").mkdir(parents=True)
    (request,) = model_requests(["models/tiny-b"], None, tmp_path)
    assert request.slug == "tiny-b"
    assert request.path == tmp_path / "models" / "tiny-b"
    assert request.model_id is None


@pytest.mark.parametrize("name", ["./m", "../elsewhere/m", "sub/m", "~/m"])
def test_names_that_look_like_paths_are_folders_even_when_missing(name, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (request,) = model_requests([name], None, tmp_path / "base")
    assert request.path is not None
    assert request.path.name == "m"
    assert request.slug == "m"


def test_other_names_are_catalog_ids(tmp_path):
    (alias, full) = model_requests(["qwen2.5-0.5b", "phi-4:1"], None, tmp_path)
    assert (alias.slug, alias.model_id, alias.path) == ("qwen2.5-0.5b", "qwen2.5-0.5b", None)
    assert (full.slug, full.model_id) == ("phi-4@1", "phi-4:1")


def test_order_is_kept(tmp_path):
    names = ["zeta", "tiny", "alpha", "phi-4:1"]
    assert [r.requested for r in model_requests(names, None, tmp_path)] == names


def test_same_basename_in_two_folders_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        model_requests(["one/tiny-b", "two/tiny-b"], None, tmp_path)
    message = str(info.value)
    assert "'one/tiny-b'" in message
    assert "'two/tiny-b'" in message
    assert "share the id 'tiny-b'" in message
    assert "models.json" in message  # how to fix it
    assert "\n" not in message


def test_two_names_of_the_embedded_model_collide(tmp_path):
    with pytest.raises(ConfigError, match="share the id 'tiny'"):
        model_requests(["tiny", EMBEDDED_MODEL_ID], None, tmp_path)


def test_names_whose_slugs_coincide_collide(tmp_path):
    with pytest.raises(ConfigError, match="share the id 'my_model'"):
        model_requests(["my model", "my_model"], None, tmp_path)


def test_slugs_differing_only_in_case_collide(tmp_path):
    # snapshots/<slug>/ folders differing only in case are one folder on Windows and macOS.
    with pytest.raises(ConfigError, match="share the id"):
        model_requests(["Qwen-mini", "qwen-mini"], None, tmp_path)


# -- with a models.json --------------------------------------------------------------------
def write_models(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "models.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_models_json_aliases_expand(tmp_path):
    path = write_models(
        tmp_path / "conf",
        {
            "default": ["local", "cat"],
            "models": {
                "local": {"path": "../weights/x", "license": "proprietary", "capabilities": ["chat"]},
                "cat": {"id": "phi-4-mini", "size_mb": 4800, "notes": "catalog"},
            },
        },
    )
    models_file = load_models_file(path)
    local, cat, folder = model_requests(["local", "cat", "./other"], models_file, tmp_path / "base")
    assert (local.slug, local.path, local.model_id) == ("local", (tmp_path / "weights" / "x"), None)
    assert (local.license, local.capabilities) == ("proprietary", ("chat",))
    assert (cat.slug, cat.model_id, cat.path, cat.size_mb, cat.notes) == (
        "cat",
        "phi-4-mini",
        None,
        4800,
        "catalog",
    )
    # A name that is not an alias is resolved as usual.
    assert folder.path == tmp_path / "base" / "other"


def test_an_alias_wins_over_the_embedded_name(tmp_path):
    models_file = load_models_file(
        write_models(tmp_path, {"models": {"tiny": {"id": "tiny", "license": "Apache-2.0"}}})
    )
    (request,) = model_requests(["tiny"], models_file, tmp_path)
    assert request.license == "Apache-2.0"
    assert request.model_id == "tiny"


def test_default_model_names(tmp_path):
    assert default_model_names(None) == ("tiny",)
    with_default = load_models_file(
        write_models(tmp_path / "a", {"default": ["x", "y"], "models": {"x": {"id": "x"}, "y": {"id": "y"}}})
    )
    assert default_model_names(with_default) == ("x", "y")
    without_default = load_models_file(write_models(tmp_path / "b", {"models": {"x": {"id": "x"}}}))
    assert default_model_names(without_default) == ("tiny",)
