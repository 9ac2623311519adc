"""A syrupy extension: one readable text file per model x prompt.

Snapshots live in ``<snapshot-dir>/<model-slug>/<prompt-id>.txt`` with a short header
(model id, prompt, max_tokens, seed, temperature) above the output text, so a pull
request shows a plain text diff.  Writes are atomic.  The file belongs to the model x
prompt, not to the test function: that is what the output depends on.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from pytest_foundry.atomic_files import atomic_write_text
from pytest_foundry.snapshot_compare import EXACT, CompareMode, first_difference, same
from pytest_foundry.text_diff import unified_diff

if TYPE_CHECKING:
    from syrupy.data import SnapshotCollection
    from syrupy.location import PyTestLocation
    from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData, SnapshotIndex

    from pytest_foundry.runtime.streaming import Generation

HEADER_END = "---\n"


def render_snapshot(generation: Generation, mode: CompareMode = EXACT) -> str:
    """Header + text of a Generation (``runtime.streaming.Generation``); a comparison
    mode other than exact is written in the header."""
    header = (
        f"# model: {generation.model_id}\n"
        f"# max_tokens: {generation.max_tokens}\n"
        f"# seed: {generation.seed}\n"
        f"# temperature: {generation.temperature:g}\n"
    )
    if not mode.exact:
        header += f"# compare: {mode}\n"
    text = generation.text if generation.text.endswith("\n") else generation.text + "\n"
    return header + HEADER_END + text


def _case_of(test_location: PyTestLocation) -> tuple[str, str]:
    """(model slug, prompt id) of a parametrized test; the test name otherwise."""
    params = getattr(getattr(test_location.item, "callspec", None), "params", {})
    model = params.get("foundry_model")
    prompt = params.get("foundry_prompt")
    prompt_id = getattr(prompt, "id", None)
    if isinstance(model, str) and isinstance(prompt_id, str):
        return model, prompt_id
    return (model if isinstance(model, str) else "_unparametrized"), test_location.snapshot_name


class FoundrySnapshotExtension(SingleFileSnapshotExtension):
    """Subclassed per session by ``make_extension`` (root folder + recorder)."""

    file_extension = "txt"
    _write_mode = WriteMode.TEXT
    snapshot_root: Path = Path("snapshots")
    compare_mode: ClassVar[CompareMode] = EXACT
    # The (model slug, prompt id) cases whose test asserted a snapshot in this run: a
    # read-only view of the recorder's set.  Only their files are ours to judge
    # "unused": a case that was not selected, that failed before its assertion, or that
    # Ctrl-C never reached keeps its snapshot.
    asserted_cases: ClassVar[Container[tuple[str, str]]] = frozenset()

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        if isinstance(data, str):
            return data if data.endswith("\n") else data + "\n"
        return render_snapshot(data, self.compare_mode)

    def matches(self, *, serialized_data: SerializableData, snapshot_data: SerializableData) -> bool:
        """Exact, or by the comparison mode: the bodies below the headers, normalised."""
        if (
            self.compare_mode.exact
            or not isinstance(serialized_data, str)
            or not isinstance(snapshot_data, str)
        ):
            return bool(serialized_data == snapshot_data)
        head_now, body_now = split_snapshot(serialized_data)
        head_then, body_then = split_snapshot(snapshot_data)
        return head_now == head_then and same(body_then, body_now, self.compare_mode)

    def diff_lines(self, serialized_data: SerializedData, snapshot_data: SerializedData) -> Iterator[str]:
        """syrupy's diff, after one line naming the first differing token."""
        if isinstance(serialized_data, str) and isinstance(snapshot_data, str):
            note = first_difference(split_snapshot(snapshot_data)[1], split_snapshot(serialized_data)[1])
            if note:
                yield note
        yield from super().diff_lines(serialized_data, snapshot_data)

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(cls.snapshot_root / _case_of(test_location)[0])

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        # The root, not the model's folder: syrupy then ignores files it does not own,
        # instead of flagging them as unknown and deleting them on --snapshot-update.
        return str(cls.snapshot_root)

    def is_snapshot_location(self, *, location: str) -> bool:
        path = Path(location)
        if not path.name.endswith(".txt"):
            return False
        stem = path.name.removesuffix(".txt")
        # "<prompt>.txt", or "<prompt>.<n>.txt" for a test's n-th assertion.
        return any(
            (path.parent.name, name) in self.asserted_cases for name in (stem, re.sub(r"\.\d+$", "", stem))
        )

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        prompt_id = _case_of(test_location)[1]
        return f"{prompt_id}.{index}" if index else prompt_id

    @classmethod
    def get_file_basename(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        return cls.get_snapshot_name(test_location=test_location, index=index)

    @classmethod
    def matches_test_location(cls, *, test_location: PyTestLocation, snapshot_location: str) -> bool:
        model, prompt_id = _case_of(test_location)
        path = Path(snapshot_location)
        stem = path.name[: -len(".txt")] if path.name.endswith(".txt") else path.name
        return path.parent.name == model and (stem == prompt_id or stem.startswith(f"{prompt_id}."))

    def read_snapshot_data_from_location(
        self, *, snapshot_location: str, snapshot_name: str, session_id: str
    ) -> SerializableData | None:
        """The stored text; a file that is not UTF-8 text, or a folder in its place, reads
        as a one-line note, so the assertion fails with a readable diff and
        ``--snapshot-update`` rewrites it."""
        path = Path(snapshot_location)
        try:
            return path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            return f"{CORRUPT_MARK} {path} is a folder, not a snapshot file>\n"
        except UnicodeDecodeError as exc:
            return (
                f"{CORRUPT_MARK} not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})>\n"
            )
        except OSError as exc:
            return f"{CORRUPT_MARK} cannot read ({exc.strerror})>\n"

    @classmethod
    def write_snapshot_collection(
        cls, *, snapshot_collection: SnapshotCollection, name_order: dict[str, int] | None = None
    ) -> None:
        data = next(iter(snapshot_collection)).data
        if not isinstance(data, str):
            raise TypeError(f"expected text to write, got {type(data).__name__}")
        location = Path(snapshot_collection.location)
        if location.is_dir():
            # A folder where the snapshot file belongs: an empty one is replaced; one with
            # files in it is not ours to delete.
            try:
                location.rmdir()
            except OSError:
                raise SnapshotWriteError(
                    f"{location}: a folder with files in it stands where this snapshot file belongs; "
                    "remove it and update again"
                ) from None
        atomic_write_text(location, data)


class SnapshotWriteError(OSError):
    """A snapshot file could not be written (one line, naming the file)."""


# What a snapshot that cannot be read as text reads as (never a real snapshot's text).
CORRUPT_MARK = "<unreadable snapshot:"


def make_extension(
    snapshot_root: Path, asserted_cases: Container[tuple[str, str]], mode: CompareMode = EXACT
) -> type[FoundrySnapshotExtension]:
    """A per-session (and per comparison mode) subclass, so nothing leaks between
    (in-process) pytest runs."""
    return type(
        "FoundrySnapshotExtension",
        (FoundrySnapshotExtension,),
        {"snapshot_root": snapshot_root, "asserted_cases": asserted_cases, "compare_mode": mode},
    )


def split_snapshot(text: str) -> tuple[str, str]:
    """(header, body) of a stored snapshot; ("", text) when it has no header."""
    header, found, body = text.partition(HEADER_END)
    return (header, body) if found and header.startswith("# ") else ("", text)


# syrupy warns when a snapshot's name does not contain the test's name; ours are named
# after the model x prompt on purpose (one file serves any test of it).  The plugin
# ignores this warning around syrupy's end-of-session writes.
UNRELATED_NAME_WARNING = r"\s*Can not relate snapshot name"


def snapshot_outcome(
    created: bool, updated: bool, success: bool, recalled: Any, asserted: Any
) -> tuple[str, str | None]:
    """(status, unified diff) of one snapshot assertion, for the results record."""
    if created:
        return "created", None
    if updated:
        return "updated", _diff(recalled, asserted)
    if success:
        return "matched", None
    return "changed", _diff(recalled, asserted)


def _diff(before: Any, after: Any) -> str | None:
    if not isinstance(before, str) or not isinstance(after, str):
        return None
    return unified_diff(before, after, "snapshot", "output")
