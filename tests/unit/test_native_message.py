"""Native messages: locations and C++ signatures go, the reason stays whole."""

from __future__ import annotations

import pickle

import pytest

from pytest_foundry.errors import FoundryError, ModelError, RequestTimeout, native_message

KV = "KV cache capacity (48) must be at least local_window_size (512)"


@pytest.mark.parametrize(
    ("native", "shown"),
    [
        (
            "search_options.cc:108 int fl::ValidateGeneratorRequestBudget(int64_t, int, int) "
            "request requires 5019 total tokens (19 input + 5000 output), "
            "which exceeds the model's maximum context length of 2048 tokens",
            "request requires 5019 total tokens (19 input + 5000 output), which exceeds the model's maximum "
            "context length of 2048 tokens",
        ),
        (
            "kv_cache.cpp:210 static std::unique_ptr<Generators::KeyValueCache, "
            "std::default_delete<Generators::KeyValueCache> > "
            "Generators::CreateKeyValueCache(Generators::State&, "
            f"const Generators::Config&) {KV}",
            KV,
        ),
        # A signature with no location before it.
        (f"static std::unique_ptr<Generators::KV_Cache> Generators::CreateKeyValueCache(State&) {KV}", KV),
        # Trailing qualifiers and a colon after the signature.
        (f"model.cc:12:3: virtual void ns::Model::Run(const int*) const noexcept: {KV}", KV),
        # A location inside the message (onnxruntime wraps the native text).
        (
            "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Load model from /x/model.onnx failed: "
            "/onnxruntime_src/onnxruntime/core/graph/model.cc:180 "
            "onnxruntime::Model::Model(onnx::ModelProto&&, "
            "const PathString&, const onnxruntime::ModelOptions&) No graph was found in the protobuf.",
            "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Load model from /x/model.onnx failed: "
            "No graph was found in the protobuf.",
        ),
        # Plain text with parentheses is not a signature.
        ("Failed to load (reason unknown)", "Failed to load (reason unknown)"),
        ("request requires 5019 total tokens (19 input)", "request requires 5019 total tokens (19 input)"),
        ("Multi\nline   message\n", "Multi line message"),
    ],
)
def test_native_message(native, shown):
    assert native_message(native) == shown


def test_nothing_left_but_a_location_still_says_something():
    assert native_message("model.cc:12: ") == "error"
    assert native_message(RuntimeError("a.cc:1 ")) == "RuntimeError"


def test_the_full_text_travels_with_the_error():
    full = f"kv_cache.cpp:210 static std::unique_ptr<X> Generators::Create(State&) {KV}"
    error = ModelError(f"gemma: {native_message(full)}", detail=full)
    assert str(error) == f"gemma: {KV}"
    assert error.detail == full
    assert RequestTimeout("t").detail is None
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.detail) == (str(error), full)
    assert isinstance(copy, FoundryError)
