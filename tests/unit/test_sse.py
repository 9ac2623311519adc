"""The SSE decoder: events however the bytes are split, and a body that is not a stream."""

from __future__ import annotations

import pytest

from pytest_foundry.runtime.sse import NotAnEventStream, SseDecoder

STREAM = (
    b'data: {"a": 1}\n\n: keep-alive\n\nevent: message\nid: 7\nretry: 10\ndata: {"b": 2}\n\ndata: [DONE]\n\n'
)
EVENTS = [b'{"a": 1}', b'{"b": 2}', b"[DONE]"]


def decode(pieces: list[bytes]) -> list[bytes]:
    decoder = SseDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.close()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_events_do_not_depend_on_how_the_bytes_arrive(size):
    pieces = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert decode(pieces) == EVENTS


def test_crlf_line_ends_and_data_without_a_space():
    assert decode([b'data:{"a": 1}\r\n\r\ndata: [DONE]\r\n\r\n']) == [b'{"a": 1}', b"[DONE]"]


def test_an_event_of_several_data_lines_joins_them_with_newlines():
    assert decode([b"data: one\ndata: two\n\n"]) == [b"one\ntwo"]


def test_an_event_completes_only_at_its_blank_line():
    decoder = SseDecoder()
    assert decoder.feed(b"data: x\n") == []
    assert decoder.feed(b"\n") == [b"x"]


def test_the_last_event_counts_without_its_blank_line():
    # A server may close right after "data: [DONE]".
    assert decode([b"data: [DONE]"]) == [b"[DONE]"]
    assert decode([b"data: [DONE]\n"]) == [b"[DONE]"]


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n",
        b'{"object": "chat.completion", "choices": []}\n',
        b"SSH-2.0-OpenSSH_9.6\r\n",
    ],
)
def test_a_body_that_is_not_an_event_stream_is_refused_at_its_first_line(body):
    decoder = SseDecoder()
    with pytest.raises(NotAnEventStream) as info:
        decoder.feed(body)
    assert info.value.line == body.split(b"\n")[0].rstrip(b"\r")
    assert decoder.lines == 1


def test_a_non_stream_line_at_the_very_end_is_refused_too():
    decoder = SseDecoder()
    assert decoder.feed(b"data: x\n\n") == [b"x"]
    decoder.feed(b"<html>")
    with pytest.raises(NotAnEventStream):
        decoder.close()
