"""Draft lint: every rule a draft must pass before it goes for approval."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.config import Segment
from policies.lint import (
    DISGUISED,
    LATIN_LOOKALIKES,
    LintIssue,
    compose_post,
    lint_draft,
    matching_form,
    text_fingerprint,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

SEGMENT = Segment(
    channel="C0CUSTOMER",
    create={
        "banned_terms": ["guarantee", "money back", "無料"],
        "allowed_link_domains": ["acme.com", "acme.co.uk"],
    },
)
OPEN_SEGMENT = Segment(channel="C0PROMO")  # no banned terms, any link allowed
PHRASE_SEGMENT = Segment(
    channel="C0PHRASES", create={"banned_terms": ["free shipping", "гарантия"]}
)


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
        # Was "accented-nfc-word-is-not-the-banned-word" (no issue); the adversarial review
        # found combining accents slipped banned terms past lint, so marks no longer hide them.
        "banned-disguised-combining-accent-on-e",
        "GUARANTE\u0301E",  # NFC is GUARANT\u00c9E
        expect=(("text", f'banned term "guarantee" (as "GUARANT\u00c9E", {DISGUISED})'),),
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
    # -- banned terms disguised with invisible or look-alike characters (each failed before)
    Case(
        "banned-disguised-zero-width-space",
        "We guar\u200bantee it",
        expect=(("text", f'banned term "guarantee" (as "guar[U+200B]antee", {DISGUISED})'),),
    ),
    Case(
        "banned-disguised-soft-hyphen",
        "We guar\u00adantee it",
        expect=(("text", '(as "guar[U+00AD]antee", written with look-alike or invisible'),),
    ),
    Case(
        "banned-disguised-word-joiner",
        "Full mon\u2060ey back",
        expect=(("text", f'banned term "money back" (as "mon[U+2060]ey back", {DISGUISED})'),),
    ),
    Case(
        "banned-disguised-cyrillic-a",
        "We gu\u0430rantee it",
        expect=(("text", f'banned term "guarantee" (as "gu\u0430rantee", {DISGUISED})'),),
    ),
    Case(
        "banned-disguised-fullwidth",
        "It is \uff47\uff55\uff41\uff52\uff41\uff4e\uff54\uff45\uff45\uff44.",
        expect=(
            (
                "text",
                f'(as "\uff47\uff55\uff41\uff52\uff41\uff4e\uff54\uff45\uff45\uff44", {DISGUISED})',
            ),
        ),
    ),
    Case(
        "banned-disguised-combining-accent",
        "We guara\u0301ntee it",  # NFC is guar\u00e1ntee
        expect=(("text", f'banned term "guarantee" (as "guar\u00e1ntee", {DISGUISED})'),),
    ),
    Case(
        "banned-disguised-greek-capitals",
        "GU\u0391R\u0391\u039d\u03a4\u0395\u0395",  # Greek Alpha, Nu, Tau, Epsilon
        expect=(("text", '(as "GU\u0391R\u0391\u039d\u03a4\u0395\u0395", written with'),),
    ),
    Case(
        "banned-disguised-mixed",
        "G\u200bU\u0410RAN\u0422\uff25E!",  # ZWSP, Cyrillic A and T, fullwidth E
        expect=(("text", '(as "G[U+200B]U\u0410RAN\u0422\uff25E", written with look-alike'),),
    ),
    Case(
        "banned-disguised-cjk-zero-width",
        "今なら無\u200b料です",
        expect=(("text", f'banned term "無料" (as "無[U+200B]料", {DISGUISED})'),),
    ),
    Case(
        "banned-disguised-cyrillic-capital-i-reads-as-i",
        "FREE SH\u0406PPING",
        segment=PHRASE_SEGMENT,
        expect=(("text", f'"free shipping" (as "FREE SH\u0406PPING", {DISGUISED})'),),
    ),
    Case(
        "banned-disguised-cyrillic-term-with-latin-a",
        "\u0433a\u0440\u0430\u043d\u0442\u0438\u044f",  # the Russian term, one Latin "a"
        segment=PHRASE_SEGMENT,
        expect=(("text", 'banned term "гарантия" (as "\u0433a\u0440\u0430'),),
    ),
    Case(
        "banned-disguised-in-link-field",
        "Details:",
        link="https://acme.com/gu\u0430rantee",
        expect=(("link", f'banned term "guarantee" (as "gu\u0430rantee", {DISGUISED})'),),
    ),
    # guards: what was right before stays right
    Case(
        "banned-glued-by-zero-width-space-still-flagged",  # flagged before too
        "best\u200bguarantee",
        expect=(("text", 'banned term "guarantee"; this segment'),),
    ),
    Case(
        "banned-cyrillic-term-any-case",
        "\u0413\u0410\u0420\u0410\u041d\u0422\u0418\u042f",
        segment=PHRASE_SEGMENT,
        expect=(("text", '"гарантия"'),),
    ),
    Case("ok-russian-word-is-not-guarantee", "Наша гарантия качества"),
    Case("ok-disguise-inside-word-not-prefix", "That was un\uff47\uff55\uff41rant\u200beed."),
    Case(
        "ok-emoji-sequences",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 \u2764\ufe0f \U0001f44d\U0001f3fd",
    ),
    Case("ok-rtl-mark-in-latin-text", "Shipping\u200f is free"),
    # -- no visible text (each was accepted before)
    Case(
        "invisible-only-zero-width-space",
        "\u200b",
        expect=(("text", "empty: it has only invisible characters (U+200B)"),),
    ),
    Case("invisible-only-rtl-override", "\u202e", expect=(("text", "The tweet is empty"),)),
    Case(
        "invisible-only-word-joiners-and-spaces",
        " \u2060  \u2060 ",
        expect=(("text", "empty: it has only invisible characters (U+2060)"),),
    ),
    Case("invisible-only-hangul-filler", "\u3164\u3164", expect=(("text", "empty"),)),
    Case(
        "invisible-only-with-link",
        "\u200b\u200d",
        link="https://acme.com",
        expect=(("text", "empty: it has only invisible characters (U+200B, U+200D)"),),
    ),
    # -- links disguised with look-alike full stops or letters
    Case(
        "link-ideographic-full-stop-refused",
        "See https://evil\u3002io/x",
        expect=(("text", f'Links to evil.io ("https://evil\u3002io/x", {DISGUISED})'),),
    ),
    Case(
        "link-fullwidth-full-stop-refused",
        "See https://evil\uff0eio",
        expect=(("text", f'Links to evil.io ("https://evil\uff0eio", {DISGUISED})'),),
    ),
    Case(
        "link-halfwidth-ideographic-stop-bare-domain-refused",
        "See evil\uff61io now",
        expect=(("text", "Links to evil.io"),),
    ),
    Case(
        "link-ideographic-stops-fake-subdomain-refused",
        "See acme\u3002com\u3002evil\u3002io",
        expect=(("text", "Links to acme.com.evil.io"),),
    ),
    Case(
        "link-fullwidth-host-refused",  # refused before too (IDNA maps fullwidth letters)
        "See https://\uff45\uff56\uff49\uff4c.io",
        expect=(("text", "Links to evil.io"),),
    ),
    Case(
        "link-cyrillic-host-in-text-refused",  # refused before too, as punycode
        "See https://\u0430cme.com/x",
        expect=(("text", "Links to xn--"),),
    ),
    Case(
        "link-zero-width-space-in-host-refused",  # refused before too; now quoted visibly
        "See https://acme.com\u200b.evil.io",
        expect=(("text", 'Links to acme.com.evil.io ("https://acme.com[U+200B].evil.io")'),),
    ),
    Case("ok-ideographic-full-stop-to-allowed-host", "See acme\u3002com/status"),
    Case("ok-fullwidth-allowed-host", "See \uff41\uff43\uff4d\uff45.com/x"),
    Case(
        "link-field-ideographic-full-stop-malformed",  # X does not link it: malformed, as before
        "Read:",
        link="https://evil\u3002io",
        expect=(("link", "is not a link X would recognise"),),
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
    ("zero-width-space-differs", "guarantee", "guar\u200bantee", False),
    ("fullwidth-differs", "acme", "\uff41cme", False),
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


# Invisible characters a disguise may put between letters: format characters, a Hangul filler,
# and combining marks (which sit on the letter before them).
INVISIBLES = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\u00ad",
    "\u180e",
    "\u2061",
    "\u202e",
    "\u3164",
    "\u034f",
    "\ufe0f",
    "\u0301",
    "\u0308",
    "\u0336",
]


def _lookalikes(letter: str) -> list[str]:
    """Characters from lint's look-alike table that read as `letter` on their own."""
    readings = (letter, "\u0131") if letter in "il" else (letter,)
    return sorted(char for char in LATIN_LOOKALIKES if matching_form(char)[0] in readings)


LOOKALIKES = {letter: _lookalikes(letter) for letter in set("guaranteemoneyback")}


@st.composite
def disguised(draw: st.DrawFn, term: str) -> str:
    """`term` with random look-alike letters and invisible characters between its letters."""
    out = []
    for letter in term:
        if letter == " ":
            out.append(draw(st.sampled_from([" ", "  ", "\n", "\u00a0"])))
            continue
        out.append(draw(st.sampled_from([letter, letter.upper(), *LOOKALIKES[letter]])))
        out += draw(st.lists(st.sampled_from(INVISIBLES), max_size=2))
    return "".join(out)


def test_lookalike_table_covers_the_review_cases() -> None:
    assert {"\u0430", "\u0391"} <= set(LOOKALIKES["a"])  # Cyrillic a, Greek capital Alpha
    assert all(len(LOOKALIKES[letter]) >= 3 for letter in "guarantee")


@given(
    st.text(max_size=30),
    st.sampled_from(["guarantee", "money back"]),
    st.data(),
    st.text(max_size=30),
)
def test_disguised_banned_term_is_always_flagged(
    before: str, term: str, data: st.DataObject, after: str
) -> None:
    text = f"{before} {data.draw(disguised(term))} {after}"
    issues = lint_draft(text=text, segment=SEGMENT, now=NOW)
    assert any(i.field == "text" and f'banned term "{term}"' in i.message for i in issues), (
        text,
        issues,
    )


@given(st.text(alphabet=st.sampled_from([*INVISIBLES[:9], " ", "\n", "\u2800"]), min_size=1))
def test_text_without_visible_characters_is_empty(text: str) -> None:
    issues = lint_draft(text=text, segment=OPEN_SEGMENT, now=NOW)
    assert [i.field for i in issues if "empty" in i.message] == ["text"], issues


@given(st.text(max_size=60))
def test_matching_form_maps_back_to_the_text(text: str) -> None:
    folded, origin = matching_form(text)
    assert len(origin) == len(folded)
    assert origin == sorted(origin)
    assert all(0 <= i < len(text) for i in origin)
