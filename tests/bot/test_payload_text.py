"""The front door's check for text no database can store (bot/slack/payload.py): a NUL or a
lone surrogate anywhere in a payload, keys included, is refused; everything a person can type
passes, backslashes and emoji included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.payload import _text_problem

REFUSED = "a string holds a NUL or a lone surrogate"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"text": "refund please"}, None),
        ({"text": "\x00"}, REFUSED),
        ({"text": "before\x00after"}, REFUSED),
        ({"te\x00xt": "a key"}, REFUSED),
        ({"view": {"blocks": [{"text": {"text": ["deep", "\ud800"]}}]}}, REFUSED),
        ({"text": "\udfff at the end of a pair's place"}, REFUSED),
        ({"text": "😀 an astral emoji (a surrogate pair in JSON)"}, None),
        ({"text": json.loads('"\\ud83d\\ude00 escaped as a pair"')}, None),
        ({"text": "typed: \\u0000"}, None),  # a backslash and five characters
        ({"text": "typed: \\\\u0000"}, None),
        ({"text": "\\\x00"}, REFUSED),  # a backslash, then a real NUL
        ({"text": "\t\n\r tabs and newlines"}, None),
        ({"n": 5, "ok": True, "none": None, "list": [1.5, "x"]}, None),
        ({"text": "zero\u200dwidth joiner, e\u0301 combining"}, None),
    ],
)
def test_text_no_database_can_store_is_refused(body: dict[str, Any], problem: str | None) -> None:
    assert _text_problem(body) == problem


def test_a_payload_nested_deeper_than_python_writes_is_refused_not_raised() -> None:
    body: dict[str, Any] = {}
    node = body
    for _ in range(100_000):
        node["a"] = {}
        node = node["a"]
    assert _text_problem(body) == "the payload is nested too deeply"
