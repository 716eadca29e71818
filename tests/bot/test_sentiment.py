"""Sentiment as a care team reads it: the brand-care lexicon against people's labels on tweets
to a brand, and a brand's own terms from app.yaml."""

from __future__ import annotations

import math

import pytest

from bot.mentions import sentiment
from bot.slack.cards.mention_card import sentiment_label

# Tweets to a brand's care account as people write them, each with the label a person reading
# it would give. Written before the lexicon was, and not edited to suit it: the two it still
# gets wrong are sarcasm ("Great way to start the week") and "can't believe how fast".
CARE_TWEETS: list[tuple[str, str]] = [
    # complaints, outages, billing
    ("@acme outage again, refund please", "negative"),
    ("@acme charged twice for my order this month. Who do I talk to?", "negative"),
    ("@acme still waiting on a reply to my ticket from last week", "negative"),
    ("@acme your app keeps crashing every time I open the cart", "negative"),
    ("@acme been on hold for 45 minutes. Great customer service 🙄", "negative"),
    ("@acme is your site down? Can't log in since this morning", "negative"),
    ("@acme I want to cancel my subscription. How do I do that without calling?", "negative"),
    ("@acme overcharged AGAIN. This is the third time.", "negative"),
    ("@acme worst delivery experience ever, package arrived broken", "negative"),
    ("@acme no response to my emails for 5 days. Is anyone there?", "negative"),
    ("@acme thanks for nothing. Never again.", "negative"),
    ("@acme the checkout page throws an error 500 when I pay with PayPal", "negative"),
    ("@acme love how my order says delivered but it's nowhere to be found", "negative"),
    ("@acme wow, another outage. Great way to start the week", "negative"),
    ("@acme my card was charged but the order never went through", "negative"),
    ("@acme your support bot is useless, I need a human", "negative"),
    ("@acme internet down for the whole street since 6am, any ETA?", "negative"),
    ("@acme this is a scam, I paid for premium and got nothing", "negative"),
    ("@acme how do I unsubscribe from these emails? I get five a day", "negative"),
    ("@acme the update broke sync on my iPad, nothing loads", "negative"),
    ("@acme app not working at all today", "negative"),
    ("@acme the refund you promised two weeks ago still hasn't arrived", "negative"),
    ("@acme I've been a customer for 10 years and this is how you treat me?", "negative"),
    ("@acme my order is 3 weeks late and tracking hasn't updated since the 2nd", "negative"),
    ("@acme really disappointed, the replacement has the same fault", "negative"),
    ("@acme can you please just fix the login issue, it's been days", "negative"),
    ("@acme my account got hacked and someone placed orders on my card", "negative"),
    ("@acme Acme Pay won\u2019t let me add my card, keeps saying try again later", "negative"),
    # praise
    ("@acme thanks for fixing my account so quickly, you're the best!", "positive"),
    ("@acme all sorted now, thank you Jess from support!", "positive"),
    ("@acme quick response and the issue was resolved in 10 minutes. Great support", "positive"),
    ("@acme the new dashboard is lovely, great job team", "positive"),
    ("@acme shoutout to your care team, they went above and beyond", "positive"),
    ("@acme refund came through today, thanks for sorting it out", "positive"),
    ("@acme the outage is fixed on my end, thanks for the updates all night", "positive"),
    ("@acme never had a problem with you guys, 5 years and counting", "positive"),
    ("@acme can't believe how fast delivery was, ordered last night and it's here!", "positive"),
    ("@acme finally back up and running, appreciate the quick fix", "positive"),
    # neutral questions and chatter
    ("@acme which room is the keynote in?", "neutral"),
    ("@acme what time does the store on Main St open on Sundays?", "neutral"),
    ("@acme do you ship to Canada?", "neutral"),
    ("@acme is there a student discount?", "neutral"),
    ("@acme how do I download my invoices as PDF?", "neutral"),
    ("@acme will the livestream be recorded? #AcmeConf", "neutral"),
    ("@acme does the Pro plan include API access?", "neutral"),
    ("@acme just updated to version 4.2, where did the export button move to?", "neutral"),
    ("@acme can I change the delivery address on an order I placed today?", "neutral"),
    ("@acme is the breakdown of charges on my bill available online?", "neutral"),
    ("@acme how do I cancel an order I placed by mistake?", "neutral"),
    ("@acme are you hiring for the Berlin office?", "neutral"),
    ("@acme what's the wifi password at the conference venue?", "neutral"),
    ("@acme can you follow back so I can DM my order number?", "neutral"),
]

AGREEMENT_NEEDED = 0.95  # at least 38 of 40


def _label(score: float) -> str:
    """negative / neutral / positive, by VADER's own ±0.05 convention (as the card words it)."""
    return sentiment_label(score).split()[0].lower()


def _agreement(scorer: object) -> tuple[int, list[str]]:
    assert callable(scorer)
    misses = [
        f"{label:>8} but {scorer(text):+.2f}: {text}"
        for text, label in CARE_TWEETS
        if _label(scorer(text)) != label
    ]
    return len(CARE_TWEETS) - len(misses), misses


def test_the_table_is_big_enough_and_has_every_label() -> None:
    labels = [label for _, label in CARE_TWEETS]
    assert len(CARE_TWEETS) >= 40
    assert {labels.count(name) >= 10 for name in ("negative", "neutral", "positive")} == {True}
    assert len({text for text, _ in CARE_TWEETS}) == len(CARE_TWEETS)


def test_the_care_lexicon_agrees_with_people_far_more_than_plain_vader(
    capsys: pytest.CaptureFixture[str],
) -> None:
    vader, _ = _agreement(sentiment.vader_score)
    care, misses = _agreement(sentiment.score)
    total = len(CARE_TWEETS)
    with capsys.disabled():
        print(f"\nsentiment table: plain VADER {vader}/{total} → care lexicon {care}/{total}")
    assert care >= math.ceil(AGREEMENT_NEEDED * total), "\n".join(misses)
    assert care > vader


@pytest.mark.parametrize(
    ("text", "extra_terms", "label"),
    [
        ("@acme the blue one is out of stock again", {}, "neutral"),
        ("@acme the blue one is out of stock again", {"out of stock": -2.5}, "negative"),
        ("@acme the blue one is OUT OF STOCK again", {"Out Of Stock": -2.5}, "negative"),
        ("@acme the blue one is back in stock!", {"back in stock": 2}, "positive"),
        ("@acme is Blaze still free?", {}, "positive"),  # VADER: "free" is good news
        ("@acme is Blaze still free?", {"free": 0}, "neutral"),  # a brand's weight wins
        ("@acme outage again, refund please", {"refund": 0}, "negative"),  # others still count
        ("@acme the new menu 🍕", {"🍕": 2}, "positive"),  # an emoji term
        ("@acme are you killing the free tier", {}, "negative"),
        ("@acme are you killing the free tier", {"killing the free tier": -3}, "negative"),
    ],
)
def test_a_brands_extra_terms_score_with_the_care_lexicon(
    text: str, extra_terms: dict[str, float], label: str
) -> None:
    assert _label(sentiment.score(text, extra_terms=extra_terms)) == label


def test_not_down_is_not_an_outage_and_download_is_not_down() -> None:
    assert sentiment.score("@acme the site is down again") < -0.3
    assert -0.05 < sentiment.score("@acme the site is not down, my wifi was") < 0.05
    assert -0.05 < sentiment.score("@acme how do I download the app") < 0.05
    assert sentiment.score("@acme the app is not working") < sentiment.score("@acme it works")


def test_the_analyzer_is_built_once_per_set_of_terms() -> None:
    terms = {"out of stock": -2.0}
    assert sentiment.analyzer_for(terms) is sentiment.analyzer_for(dict(terms))
    assert sentiment.analyzer_for({}) is sentiment.analyzer_for(None)
    assert sentiment.analyzer_for(terms) is not sentiment.analyzer_for({})


@pytest.mark.parametrize(
    ("score", "shown"),
    [
        (-0.7184, "negative (-0.72)"),
        (-0.05, "negative (-0.05)"),
        (-0.0449, "neutral (-0.04)"),
        (-0.004, "neutral (0.00)"),
        (0.0, "neutral (0.00)"),
        (0.0496, "positive (+0.05)"),  # the word follows the number shown
        (0.3182, "positive (+0.32)"),
        (1.0, "positive (+1.00)"),
    ],
)
def test_the_card_says_the_label_in_words_then_the_score(score: float, shown: str) -> None:
    assert sentiment_label(score) == shown
