"""SSEParser: data lines with and without a space, comments, garbage, DONE, multi-line data."""

from __future__ import annotations

from core.relay.sse import DONE, SSEParser


def feed_all(lines: list[str]) -> list[object]:
    parser = SSEParser()
    return [r for r in (parser.feed(line) for line in lines) if r is not None]


def test_data_with_and_without_space() -> None:
    assert feed_all(['data: {"a": 1}', "", 'data:{"b": 2}', "", 'data:   {"c": 3}  ']) == [
        {"a": 1},
        {"b": 2},
        {"c": 3},
    ]


def test_done_marker() -> None:
    assert feed_all(["data: [DONE]"]) == [DONE]
    assert feed_all(["data:[DONE]"]) == [DONE]
    assert feed_all(["data: [DONE]  "]) == [DONE]


def test_ignores_comments_events_and_blank_lines() -> None:
    lines = [
        ": keep-alive",
        "",
        ": PING",
        "event: message",
        "id: 7",
        "retry: 3000",
        "",
        'data: {"x": true}',
        "",
    ]
    assert feed_all(lines) == [{"x": True}]


def test_tolerates_garbage() -> None:
    lines = [
        "data: not json",
        "",
        "data: 42",
        "",
        'data: ["a list"]',
        "",
        "data:",
        "",
        "data: {broken",
        "",
        "garbage line",
        'data: {"ok": 1}',
        "",
    ]
    assert feed_all(lines) == [{"ok": 1}]


def test_events_without_blank_separator() -> None:
    assert feed_all(['data: {"a": 1}', 'data: {"b": 2}', "data: [DONE]"]) == [
        {"a": 1},
        {"b": 2},
        DONE,
    ]


def test_multi_line_data_is_joined() -> None:
    assert feed_all(['data: {"a":', "data: 1}", ""]) == [{"a": 1}]


def test_unfinished_multi_line_data_is_dropped_at_event_end() -> None:
    assert feed_all(['data: {"a":', "", 'data: {"b": 2}', ""]) == [{"b": 2}]


def test_unicode_payload() -> None:
    assert feed_all(['data: {"content": "你好 👋"}']) == [{"content": "你好 👋"}]
