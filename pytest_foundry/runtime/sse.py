"""A small, strict, incremental Server-Sent Events decoder (bytes in, ``data`` payloads out).

No pytest, no network.  Only what an OpenAI-compatible stream needs from the SSE format:
``data:`` lines (joined with newlines when an event has several), comments (``:``), and
the ``event``/``id``/``retry`` fields, which are accepted and ignored.  A line that is
none of these means the body is not an event stream (an HTML page, a banner, a JSON
document), and is an error instead of being skipped as the SSE spec would: skipping it
would turn a broken answer into an empty "ok" one.
"""

from __future__ import annotations

_IGNORED_FIELDS = frozenset({b"event", b"id", b"retry"})


class NotAnEventStream(ValueError):
    """The body holds a line that no event stream has."""

    def __init__(self, line: bytes) -> None:
        super().__init__(line)
        self.line = line


class SseDecoder:
    """Feed raw body bytes as they arrive; get back the data of each completed event."""

    __slots__ = ("_buffer", "_data", "lines")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        # Lines seen so far (for messages about where a stream went wrong).
        self.lines = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data payloads of the events that ``chunk`` completes, in order."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\n" not in buffer:
            self._buffer = buffer
            return []
        *lines, self._buffer = buffer.split(b"\n")
        events: list[bytes] = []
        for line in lines:
            self._line(line, events)
        return events

    def close(self) -> list[bytes]:
        """At the end of the body: an event whose closing blank line never came still counts
        (a server may close right after ``data: [DONE]``)."""
        events: list[bytes] = []
        if self._buffer:
            buffer, self._buffer = self._buffer, b""
            self._line(buffer, events)
        if self._data:
            events.append(b"\n".join(self._data))
            self._data = []
        return events

    def _line(self, line: bytes, events: list[bytes]) -> None:
        self.lines += 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:  # a blank line ends the event
            if self._data:
                events.append(b"\n".join(self._data) if len(self._data) > 1 else self._data[0])
                self._data = []
            return
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)
            return
        if line.startswith(b":"):
            return  # a comment (keep-alive)
        field = line.split(b":", 1)[0]
        if field not in _IGNORED_FIELDS:
            raise NotAnEventStream(line)
