"""A submitted form's private_metadata: what a form of ours wrote loads; anything else is
ValueError, the one error its listener catches to answer "This form is not one of mine."."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.slack.cards.dismiss_modal import DismissContext
from bot.slack.cards.draft_modals import DraftContext
from bot.slack.cards.inbox_modals import InboxContext
from bot.slack.cards.outside_post_alert import ExpectedContext
from bot.slack.cards.segment_modal import segment_metadata, segment_of

LOADERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "dismiss": (DismissContext.load, DismissContext("1", "C0A", "1.5").dump()),
    "draft": (DraftContext.load, DraftContext("C0A", in_reply_to="1", card_ts="1.5").dump()),
    "inbox": (InboxContext.load, InboxContext("1", "C0A", "1.5", ["2", "3"]).dump()),
    "expected": (ExpectedContext.load, ExpectedContext("1", "C0A", "1.5").dump()),
    "segment": (segment_of, segment_metadata("customer_relations", 4)),
}


@pytest.mark.parametrize("form", list(LOADERS))
def test_what_our_forms_write_loads_again(form: str) -> None:
    load, written = LOADERS[form]
    assert load(written) is not None


def _changed(written: str, **changes: Any) -> str:
    return json.dumps(json.loads(written) | changes)


def _bad(form: str) -> list[str]:
    written = LOADERS[form][1]
    first = next(iter(json.loads(written)))
    return [
        "null",  # json.loads gives None: once a TypeError no listener caught
        "[1, 2]",
        "5",
        '"text"',
        "{nope",
        _changed(written, **{first: None}),
        _changed(written, **{first: ["1"]}),
        _changed(written, **{first: {"id": "1"}}),
        _changed(written, **{first: 7}),
    ]


CASES = [(form, bad) for form in LOADERS for bad in _bad(form)]
CASES += [
    ("draft", _changed(LOADERS["draft"][1], in_reply_to=["1", "2"])),  # would reach a query
    ("inbox", _changed(LOADERS["inbox"][1], mention_ids="123")),  # once three ids: 1, 2, 3
    ("inbox", _changed(LOADERS["inbox"][1], mention_ids=[1, 2])),
    ("segment", _changed(LOADERS["segment"][1], revision=float("inf"))),  # int() overflowed
    ("segment", _changed(LOADERS["segment"][1], revision="4")),
    ("segment", _changed(LOADERS["segment"][1], revision=True)),
]


@pytest.mark.parametrize(("form", "raw"), CASES)
def test_anything_else_is_a_value_error(form: str, raw: str) -> None:
    with pytest.raises(ValueError):
        LOADERS[form][0](raw)
