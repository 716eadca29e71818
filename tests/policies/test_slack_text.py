"""Slash-command words as Slack escapes them, and bare IDs."""

from __future__ import annotations

import pytest

from policies.slack_text import (
    channel_id,
    clip,
    group_id,
    label,
    principal_id,
    unescape,
    user_id,
    words,
)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("<#C0NEWCARE|new-care>", "C0NEWCARE"),
        ("<#C0NEWCARE|>", "C0NEWCARE"),  # Slack may leave the name out
        ("<#C0NEWCARE>", "C0NEWCARE"),
        ("<#G0PRIVATE|secret>", "G0PRIVATE"),
        ("C0NEWCARE", "C0NEWCARE"),
        ("#new-care", None),  # a name, not an ID: Slack did not escape it
        ("c0newcare", None),
        ("<@U0ADA|ada>", None),
        ("C0", None),  # too short to be an ID
        ("<#C0NEWCARE|new-care>x", None),
    ],
)
def test_channel_id(word: str, expected: str | None) -> None:
    assert channel_id(word) == expected


@pytest.mark.parametrize(
    ("word", "user", "group"),
    [
        ("<@U0ADA|ada>", "U0ADA", None),
        ("<@U0ADA>", "U0ADA", None),
        ("<@W0ENTERPRISE|ent>", "W0ENTERPRISE", None),
        ("U0ADA123", "U0ADA123", None),
        ("<!subteam^S0CARE|@care-leads>", None, "S0CARE"),
        ("<!subteam^S0CARE>", None, "S0CARE"),
        ("S0CARELEADS", None, "S0CARELEADS"),
        ("@ada", None, None),  # unescaped: Slack did not know this person
        ("<!here>", None, None),
        ("<!channel>", None, None),
        ("<#C0NEWCARE|x>", None, None),
        ("u0ada123", None, None),
    ],
)
def test_user_and_group_ids(word: str, user: str | None, group: str | None) -> None:
    assert user_id(word) == user
    assert group_id(word) == group
    assert principal_id(word) == (user or group)


def test_words_keep_a_reference_with_spaces_in_its_label_whole() -> None:
    assert words("approvers  customer_relations <@U0ADA|Ada Lovelace> <!subteam^S0X|@a b>") == [
        "approvers",
        "customer_relations",
        "<@U0ADA|Ada Lovelace>",
        "<!subteam^S0X|@a b>",
    ]


@pytest.mark.parametrize(
    ("word", "shown"),
    [("<#C0X|care>", "care"), ("<@U0X|ada>", "ada"), ("<#C0X>", "<#C0X>"), ("@ada", "@ada")],
)
def test_label(word: str, shown: str) -> None:
    assert label(word) == shown


@pytest.mark.parametrize(
    ("sent", "typed"),
    [("AT&amp;T", "AT&T"), ("a&lt;b&gt;c", "a<b>c"), ("&amp;lt;", "&lt;"), ("plain", "plain")],
)
def test_unescape(sent: str, typed: str) -> None:
    assert unescape(sent) == typed


@pytest.mark.parametrize(
    ("escaped", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("a" * 12, 10, "a" * 9 + "…"),
        ("Q&amp;A Q&amp;A", 8, "Q&amp;A…"),  # cut just after a whole entity
        ("Q&amp;A Q&amp;A", 11, "Q&amp;A Q…"),  # through "&am": the half entity goes
        ("&lt;&lt;&lt;", 6, "&lt;…"),  # through "&l"
        ("&gt;", 3, "…"),
    ],
)
def test_clip_never_cuts_through_an_entity(escaped: str, limit: int, expected: str) -> None:
    clipped = clip(escaped, limit)
    assert clipped == expected and len(clipped) <= limit
