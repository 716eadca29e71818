"""X's weighted tweet length (twitter-text v3), as `policies.text.weighted_length` reports it.

Expected values were read off twitter-text-parser 3.0.0, not guessed. Its v3 config weighs
U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and U+2032-U+2037 as 1 and everything else as 2;
URLs count 23; an emoji sequence (ZWJ family, flag, skin tone, keycap) counts 2 as a whole; the
text is NFC-normalised before counting.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.text import MAX_WEIGHTED_LENGTH, names_account, weighted_length

CASES = [
    # id, text, weighted length
    ("empty", "", 0),
    ("ascii-word", "hello", 5),
    ("ascii-exactly-280", "a" * 280, 280),
    ("ascii-281", "a" * 281, 281),
    ("newline-and-tab", "a\n\tb", 4),
    ("crlf-counts-as-one-newline", "a\r\nb", 3),
    ("url-https-long", "https://example.com/" + "x" * 100, 23),
    ("url-http-short", "http://a.co", 23),
    ("url-bare-domain-with-path", "acme.com/x", 23),
    ("url-bare-domain-in-sentence", "see acme.com", 4 + 23),
    ("url-trailing-period-not-part", "acme.com.", 24),
    ("url-two", "https://acme.com/x https://acme.com/y", 23 + 1 + 23),
    ("url-280-with-url", "a" * 256 + " https://acme.com/" + "x" * 200, 280),
    ("not-url-email", "support@acme.com", 16),
    ("not-url-unknown-tld", "file.txt", 8),
    ("emoji-single", "\U0001f637", 2),
    ("emoji-zwj-family", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", 2),
    ("emoji-zwj-family-between-letters", "a\U0001f468\u200d\U0001f469\u200d\U0001f467b", 4),
    ("emoji-flag", "\U0001f1eb\U0001f1f7", 2),
    ("emoji-two-flags", "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea", 4),
    (
        "emoji-subdivision-flag",
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
        2,
    ),
    ("emoji-skin-tone", "\U0001f44d\U0001f3fd", 2),
    ("emoji-heart-with-vs16", "\u2764\ufe0f", 2),
    ("emoji-keycap", "1\ufe0f\u20e3", 2),
    # Surprises of the parser: (c) is an emoji (2) though U+00A9 lies in the weight-1 range,
    # and a text-presentation selector after an emoji is counted on its own (2 + 2).
    ("copyright-sign-is-emoji", "\u00a9", 2),
    ("heart-with-text-vs15", "\u2764\ufe0e", 4),
    ("cjk-each-2", "\u65e5\u672c\u8a9e", 6),
    ("hangul-each-2", "\ud55c\uad6d\uc5b4", 6),
    ("hangul-jamo-nfc-composed", "\u1100\u1161", 2),  # NFC makes one syllable, weight 2
    ("e-acute-precomposed", "\u00e9", 1),
    ("e-plus-combining-acute-nfc", "e\u0301", 1),  # NFC-normalised to U+00E9 first
    ("two-combining-marks", "a\u0300\u0301", 2),  # NFC: U+00E0 + U+0301
    ("arabic-each-1", "\u0645\u0631\u062d\u0628\u0627", 5),
    ("hebrew-each-1", "\u05e9\u05dc\u05d5\u05dd", 4),
    ("rtl-mark-u200f-is-2", "\u200f", 2),  # outside U+2000-U+200D
    ("ltr-mark-u200e-is-2", "\u200e", 2),
    ("zero-width-space-u200b-is-1", "\u200b", 1),
    ("arabic-with-rtl-mark", "\u200f\u0645\u0631\u062d\u0628\u0627", 7),
    ("cyrillic-each-1", "\u043f\u0440\u0438\u0432\u0435\u0442", 6),
    ("em-dash-is-1", "\u2014", 1),
    ("ellipsis-is-2", "\u2026", 2),  # U+2026 is outside U+2010-U+201F
    ("euro-sign-is-2", "\u20ac", 2),
    ("math-bold-astral-is-2", "\U0001d400", 2),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_weighted_length(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_limit_is_280() -> None:
    assert MAX_WEIGHTED_LENGTH == 280


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"),
    max_size=60,
)


@given(text=_TEXT, letter=st.sampled_from("abcxyzABCXYZ"))
def test_appending_an_ascii_letter_after_a_space_adds_one(text: str, letter: str) -> None:
    # After a space the letter cannot join a URL, an emoji or a combining sequence.
    assert weighted_length(text + " " + letter) == weighted_length(text + " ") + 1


@given(text=_TEXT)
def test_nfc_and_nfd_forms_weigh_the_same(text: str) -> None:
    assert weighted_length(unicodedata.normalize("NFD", text)) == weighted_length(
        unicodedata.normalize("NFC", text)
    )


@given(n=st.integers(min_value=0, max_value=400))
def test_ascii_letters_weigh_one_each(n: int) -> None:
    assert weighted_length("a" * n) == n


@pytest.mark.parametrize(
    ("text", "handle", "named"),
    [
        ("@acme my refund", "acme", True),
        ("thanks @ACME!", "acme", True),
        ("@acme_help my refund", "acme", False),  # another account, longer handle
        ("@acme_help my refund", "acme_help", True),
        ("mail me at me@acme.com", "acme", False),  # an address, not a mention
        ("see #acmeconf", "acme", False),
        ("@acme.", "acme", True),
    ],
)
def test_names_account(text: str, handle: str, named: bool) -> None:
    assert names_account(text, handle) is named
