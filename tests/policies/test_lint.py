"""Draft lint: every rule a draft must pass before it goes for approval."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.config import Segment
from policies.lint import LintIssue, compose_post, lint_draft, text_fingerprint

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

SEGMENT = Segment(
    channel="C0CUSTOMER",
    create={
        "banned_terms": ["guarantee", "money back", "無料"],
        "allowed_link_domains": ["acme.com", "acme.co.uk"],
    },
)
OPEN_SEGMENT = Segment(channel="C0PROMO")  # no banned terms, any link allowed


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    link: str | None = None
    schedule_at: datetime | None = None
    segment: Segment = SEGMENT
    # (field, a fragment of the message) for each issue expected, in order
    expect: tuple[tuple[str, str], ...] = ()


CASES = [
    # -- ok drafts
    Case("ok-plain", "Our status page is up to date."),
    Case("ok-link-field-allowed", "Read more:", link="https://acme.com/blog/post"),
    Case("ok-link-field-whitespace-is-stripped", "Read more:", link="  https://acme.com/x \n"),
    Case("ok-empty-link-field-is-no-link", "Hello", link="   "),
    Case("ok-url-in-text-allowed", "See https://www.acme.com/status for updates"),
    Case("ok-bare-domain-allowed", "See acme.com/status"),
    Case("ok-subdomain-allowed", "See https://support.acme.com/x", link="https://a.b.acme.co.uk/"),
    Case("ok-upper-case-host", "Visit ACME.COM!"),
    Case(
        "ok-any-link-when-list-empty", "See evil.io", link="https://evil.io", segment=OPEN_SEGMENT
    ),
    Case("ok-exactly-280", "a" * 280),
    Case("ok-280-with-link", "a" * 256, link="https://acme.com/" + "x" * 300),
    Case("ok-newline-and-tab", "Line one\n\tLine two"),
    Case("ok-rtl-mark-and-arabic", "\u200f\u0645\u0631\u062d\u0628\u0627"),
    Case("ok-email-is-not-a-link", "Write to support@evil.io"),
    Case("ok-not-prefix-inside-word", "That was unguaranteed."),
    Case("ok-phrase-words-apart", "Money talks, back off."),
    # -- empty
    Case("empty", "", expect=(("text", "empty"),)),
    Case("whitespace-only", " \n\t ", expect=(("text", "empty"),)),
    Case("empty-text-with-link", "", link="https://acme.com", expect=(("text", "empty"),)),
    # -- length
    Case("over-by-one", "a" * 281, expect=(("text", "1 character over X's 280 limit"),)),
    Case(
        "over-by-url-weighting",
        "a" * 263 + " https://acme.com/x",  # 263 + 1 + 23 = 287 (the URL is 18 long)
        expect=(("text", "7 characters over X's 280 limit (URLs count 23)"),),
    ),
    Case(
        "link-field-counted-in-length",
        "a" * 260,  # 260 + 1 + 23
        link="acme.com/x",
        expect=(("text", "4 characters over X's 280 limit (URLs count 23): the tweet, including"),),
    ),
    Case(
        "over-by-cjk-weighting",
        "日" * 141,
        expect=(("text", "2 characters over X's 280 limit (emoji and CJK characters count 2)"),),
    ),
    Case(
        "over-by-emoji-weighting",
        "a" * 279 + "\U0001f44d\U0001f3fd",
        expect=(("text", "1 character over"),),
    ),
    # -- banned terms
    Case(
        "banned-term-case-insensitive",
        "We GUARANTEE it",
        expect=(("text", 'banned term "guarantee" (as "GUARANTEE")'),),
    ),
    Case(
        "banned-term-word-prefix",
        "It is guaranteed.",
        expect=(("text", 'banned term "guarantee" (as "guaranteed")'),),
    ),
    Case("banned-term-as-hashtag", "#Guarantee", expect=(("text", '"guarantee"'),)),
    Case(
        "banned-phrase",
        "Full Money Back offer",
        expect=(("text", 'banned term "money back" (as "Money Back")'),),
    ),
    Case(
        "banned-phrase-across-newline",
        "money\nback",
        expect=(("text", 'banned term "money back"; this segment'),),
    ),
    Case(
        "accented-nfc-word-is-not-the-banned-word",
        "GUARANTE\u0301E",  # combining accent: NFC is GUARANTÉE, not the banned word
    ),
    Case("banned-cjk-term-inside-sentence", "今なら無料です", expect=(("text", '"無料";'),)),
    Case(
        "banned-two-terms-each-reported",
        "guarantee and money back",
        expect=(("text", '"guarantee"'), ("text", '"money back"')),
    ),
    Case(
        "banned-term-in-link-field",
        "Details:",
        link="https://acme.com/guarantees",
        expect=(("link", 'banned term "guarantee" (as "guarantees")'),),
    ),
    # -- links
    Case(
        "link-in-text-outside-allowed",
        "See https://evil.io/x",
        expect=(("text", 'Links to evil.io ("https://evil.io/x")'),),
    ),
    Case(
        "bare-domain-in-text-outside-allowed",
        "See evil.io/x now",
        expect=(("text", "Links to evil.io"),),
    ),
    Case(
        "lookalike-suffix-domain-refused",
        "See acme.com.evil.io",
        expect=(("text", "Links to acme.com.evil.io"),),
    ),
    Case("lookalike-prefix-domain-refused", "See evilacme.com", expect=(("text", "evilacme.com"),)),
    Case(
        "lookalike-cyrillic-a-refused",
        "ok",
        link="https://\u0430cme.com/x",
        expect=(("link", "Links to xn--"),),
    ),
    Case(
        "link-field-outside-allowed",
        "Read:",
        link="https://evil.io/x",
        expect=(("link", "links must go to acme.com, acme.co.uk"),),
    ),
    Case(
        "link-field-malformed-scheme",
        "Read:",
        link="ftp://acme.com/x",
        expect=(("link", "is not a link X would recognise"),),
    ),
    Case(
        "link-field-malformed-space",
        "Read:",
        link="https://acme.com/a b",
        expect=(("link", "not a link"),),
    ),
    Case("link-field-malformed-no-tld", "Read:", link="localhost:8000", expect=(("link", "not"),)),
    Case(
        "link-field-malformed-even-when-any-allowed",
        "Read:",
        link="not a link",
        segment=OPEN_SEGMENT,
        expect=(("link", "not a link X would recognise"),),
    ),
    # -- schedule
    Case("schedule-future-ok", "Hi", schedule_at=NOW + timedelta(hours=2)),
    Case("schedule-within-grace-ok", "Hi", schedule_at=NOW - timedelta(seconds=60)),
    Case("schedule-exactly-90-days-ok", "Hi", schedule_at=NOW + timedelta(days=90)),
    Case(
        "schedule-past",
        "Hi",
        schedule_at=NOW - timedelta(hours=3, minutes=5),
        expect=(("schedule", "in the past (3 hours 5 minutes ago)"),),
    ),
    Case(
        "schedule-just-past-grace",
        "Hi",
        schedule_at=NOW - timedelta(seconds=61),
        expect=(("schedule", "in the past (1 minute ago)"),),
    ),
    Case(
        "schedule-other-timezone-past",
        "Hi",
        schedule_at=datetime(2025, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))),  # 10:30 UTC
        expect=(("schedule", "in the past (1 hour 30 minutes ago)"),),
    ),
    Case(
        "schedule-too-far-ahead",
        "Hi",
        schedule_at=NOW + timedelta(days=90, minutes=1),
        expect=(("schedule", "at most 90 days ahead"),),
    ),
    # -- control characters
    Case(
        "control-char-bell",
        "Hi\x07 there",
        expect=(("text", "control character (U+0007 at character 3)"),),
    ),
    Case(
        "control-chars-listed-once-each",
        "a\x1bb\rc\x1b",
        expect=(("text", "(U+001B at character 2, U+000D at character 4); remove them"),),
    ),
    Case("x-invalid-char-bom", "a\ufeffb", expect=(("text", "U+FEFF"),)),
    Case(
        "control-char-in-link",
        "Read:",
        link="https://acme.com/\x00",
        expect=(("link", "U+0000"), ("link", "not a link")),
    ),
    # -- several rules at once, in field order
    Case(
        "everything-wrong",
        "guaranteed\x07 at evil.io",
        link="https://evil.io",
        schedule_at=NOW - timedelta(days=1),
        expect=(
            ("text", "U+0007"),
            ("text", '"guarantee"'),
            ("text", "Links to evil.io"),
            ("link", "Links to evil.io"),
            ("schedule", "in the past (1 day ago)"),
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_lint_draft(case: Case) -> None:
    issues = lint_draft(
        text=case.text,
        segment=case.segment,
        link=case.link,
        schedule_at=case.schedule_at,
        now=NOW,
    )
    assert [i.field for i in issues] == [field for field, _ in case.expect], issues
    for issue, (_, fragment) in zip(issues, case.expect, strict=True):
        assert fragment in issue.message, issue
    assert all(isinstance(i, LintIssue) and i.message.strip() for i in issues)


def test_naive_datetimes_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="now"):
        lint_draft(text="Hi", segment=SEGMENT, now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="schedule_at"):
        lint_draft(text="Hi", segment=SEGMENT, schedule_at=datetime(2030, 1, 1), now=NOW)


COMPOSE_CASES = [
    # id, text, link, posted
    ("no-link", "Hello", None, "Hello"),
    ("link-appended-with-one-space", "Read:", "https://acme.com", "Read: https://acme.com"),
    ("both-stripped", "  Read:\n", " https://acme.com ", "Read: https://acme.com"),
    ("blank-link-is-no-link", "Hello ", "  ", "Hello"),
]


@pytest.mark.parametrize(
    ("text", "link", "posted"), [c[1:] for c in COMPOSE_CASES], ids=[c[0] for c in COMPOSE_CASES]
)
def test_compose_post(text: str, link: str | None, posted: str) -> None:
    assert compose_post(text, link) == posted


FINGERPRINT_CASES = [
    # id, a, b, same fingerprint?
    ("identical", "Hello", "Hello", True),
    ("nfd-equals-nfc", "Caf\u00e9", "Cafe\u0301", True),
    ("case-differs", "Hello", "hello", False),
    ("trailing-space-differs", "Hello", "Hello ", False),
    ("confusable-letter-differs", "acme", "\u0430cme", False),
]


@pytest.mark.parametrize(
    ("a", "b", "same"), [c[1:] for c in FINGERPRINT_CASES], ids=[c[0] for c in FINGERPRINT_CASES]
)
def test_text_fingerprint(a: str, b: str, same: bool) -> None:
    assert (text_fingerprint(a) == text_fingerprint(b)) is same


def test_text_fingerprint_is_sha256_of_nfc_utf8() -> None:
    expected = hashlib.sha256("Caf\u00e9 \U0001f44d".encode()).hexdigest()
    assert text_fingerprint("Cafe\u0301 \U0001f44d") == expected


@given(st.text(max_size=50))
def test_text_fingerprint_is_total_and_hex(text: str) -> None:
    fingerprint = text_fingerprint(text)  # lone surrogates too: it must never raise
    assert len(fingerprint) == 64
    assert set(fingerprint) <= set("0123456789abcdef")
