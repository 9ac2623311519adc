"""The build recipe: what a conversion does, its version, and the hash that keys caches.

Bump ``RECIPE_VERSION`` whenever a change to the steps can change the bytes of the
folder they write (another builder option, another file layout): every cached folder
built by the old recipe then stops matching, and is rebuilt on next use.

History: 1 first recipe; 2 the builder no longer stamps a local Git commit (steps.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

RECIPE_VERSION = 2

DEFAULT_CONTEXT = 2048
PRECISIONS = ("int4", "int8", "fp32")

# GGUF ``general.architecture`` -> the Hugging Face architecture transformers loads it as.
# Only families that both transformers' GGUF loader and onnxruntime-genai's builder 0.18
# handle without a shim; llama (SmolLM2) is the one verified end to end here.  gemma3 is
# left out on purpose: builder 0.18 dies on transformers 5's per-layer RoPE (KeyError
# 'rope_type').
GGUF_ARCHITECTURES: dict[str, str] = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "phi3": "Phi3ForCausalLM",
}

# Hugging Face ``architectures[0]`` values of checkpoint folders the builder takes.
HF_ARCHITECTURES: frozenset[str] = frozenset(
    {
        *GGUF_ARCHITECTURES.values(),
        "GemmaForCausalLM",
        "Gemma2ForCausalLM",
        "GraniteForCausalLM",
        "NemotronForCausalLM",
        "OlmoForCausalLM",
        "PhiForCausalLM",
        "SmolLM3ForCausalLM",
    }
)


@dataclass(frozen=True)
class Recipe:
    """Everything besides the input that decides the output's bytes."""

    context: int = DEFAULT_CONTEXT  # genai_config search.max_length (the KV cache size)
    precision: str = "int4"
    execution_provider: str = "cpu"
    # Builder --extra_options.  Left at the builder's defaults on purpose: accuracy_level=1
    # decodes ~20x slower on CPU than the default (4) for int4.
    builder_options: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    version: int = RECIPE_VERSION

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["builder_options"] = dict(self.builder_options)
        return data

    def digest(self) -> str:
        """sha256 of the recipe's canonical JSON: equal recipes, equal digests."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cache_key(slug: str, input_sha256: str, recipe: Recipe) -> str:
    """A folder name that changes when the input, the recipe or its version does.

    ``slug`` is only for people reading the cache folder; the hashes make it unique.
    """
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in slug).strip("-.") or "model"
    return f"{safe}-r{recipe.version}-{input_sha256[:16]}-{recipe.digest()[:8]}"
