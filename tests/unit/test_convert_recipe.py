"""The recipe's digest and the cache key built from it."""

from __future__ import annotations

import pytest

from pytest_foundry.convert.recipe import RECIPE_VERSION, Recipe, cache_key

SHA = "ab" * 32


def test_equal_recipes_have_equal_digests() -> None:
    assert Recipe().digest() == Recipe(context=2048, precision="int4").digest()


@pytest.mark.parametrize(
    "other",
    [
        Recipe(context=4096),
        Recipe(precision="int8"),
        Recipe(builder_options=(("block_size", "64"),)),
        Recipe(version=RECIPE_VERSION + 1),
    ],
    ids=["context", "precision", "builder-option", "version"],
)
def test_every_field_changes_the_digest(other: Recipe) -> None:
    assert other.digest() != Recipe().digest()


def test_digest_is_sha256_of_canonical_json() -> None:
    # Pinned: a change here means cached folders of this recipe are no longer found.
    assert Recipe().digest() == "263fc418a785852324c31ebcf750d7be1d318159fe6a922ed54e622819c818c2"


def test_cache_key_names_recipe_version_input_and_recipe() -> None:
    key = cache_key("SmolLM2-135M-Instruct.Q4_1", SHA, Recipe())
    assert key == f"SmolLM2-135M-Instruct.Q4_1-r{RECIPE_VERSION}-{SHA[:16]}-{Recipe().digest()[:8]}"


def test_cache_key_changes_with_input_and_recipe() -> None:
    keys = {
        cache_key("m", SHA, Recipe()),
        cache_key("m", "cd" * 32, Recipe()),
        cache_key("m", SHA, Recipe(context=4096)),
        cache_key("m", SHA, Recipe(version=RECIPE_VERSION + 1)),
    }
    assert len(keys) == 4


def test_cache_key_slug_is_a_safe_folder_name() -> None:
    key = cache_key("../my model/v2", SHA, Recipe())
    assert "/" not in key
    assert " " not in key
    assert not key.startswith(".")
