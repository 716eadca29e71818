"""Routing rules: which segment each mention lands in, and the reason shown on its card."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.config import BrandConfig, parse_config
from policies.routing import MentionFacts, explain_route, route

# Rules exercise one criterion kind each; follows cover the fallback; file order matters.
CONFIG = """\
brand: Acme
admins: ["S0ADMINS"]
accounts:
  - {handle: acme, credentials_env: ACME}
segments:
  customer_relations:
    channel: C0CUSTOMER
    follow: {keywords: [outage, refund, down]}
  crisis_management:
    channel: C0CRISIS
  reputation_management:
    channel: C0REPUTATION
    follow: {sentiment_below: -0.5}
  event_coverage:
    channel: C0EVENTS
    follow: {hashtags: ["#acmeconf"]}
  product_promotion:
    channel: C0PROMO
    follow: {keywords: [promo, "new feature"], lang: [en]}
  issue_advocacy:
    channel: C0ADVOCACY
    follow: {regex: ['\\bnet[- ]?zero\\b'], authors: [greenpeace]}
  partner_support:
    channel: C0PARTNERS
    follow: {mentions: true}
  spanish_desk:
    channel: C0SPANISH
    follow: {lang: [es]}
routing:
  default_segment: customer_relations
  rules:
    - {segment: crisis_management, keywords: [hacked, lawsuit, "data leak"], sentiment_below: -0.6}
    - {segment: event_coverage, hashtags: [AcmeConf]}
    - {segment: partner_support, authors: ["@BigPartner"]}
    - {segment: issue_advocacy, regex: 'carbon\\s+(neutral|negative)'}
    - {segment: product_promotion, lang: [ja]}
    - {segment: crisis_management, keywords: [boycott]}
    - {segment: reputation_management, keywords: [boycott, scam]}
"""


EXAMPLE = parse_config(CONFIG, filename="routing-test.yaml")


@pytest.fixture
def config() -> BrandConfig:
    return EXAMPLE


def mention(
    text: str,
    *,
    author: str = "someone",
    lang: str | None = "en",
    sentiment: float | None = 0.0,
) -> MentionFacts:
    return MentionFacts(text=text, author_handle=author, lang=lang, sentiment=sentiment)


@pytest.mark.parametrize(
    ("facts", "segment", "reason"),
    [
        # 1. routing rules: every listed criterion must hold; first match wins
        pytest.param(mention("@acme we got hacked", sentiment=-0.72), "crisis_management",
                     'rule 1: keyword "hacked" and sentiment -0.72 < -0.6',
                     id="keyword-and-sentiment"),
        pytest.param(mention("Is this a DATA   LEAK?", sentiment=-0.8), "crisis_management",
                     'rule 1: keyword "data leak" and sentiment -0.8 < -0.6',
                     id="phrase-any-case-any-spacing"),
        pytest.param(mention("#hacked again?!", sentiment=-0.9), "crisis_management",
                     'rule 1: keyword "hacked" and sentiment -0.9 < -0.6',
                     id="keyword-next-to-punctuation"),
        pytest.param(mention("I got hacked lol", sentiment=0.4), "customer_relations",
                     "default segment",
                     id="and-across-keys-keyword-but-sentiment-too-high"),
        pytest.param(mention("hacked", sentiment=None), "customer_relations",
                     "default segment", id="no-sentiment-never-below-a-threshold"),
        pytest.param(mention("See you at #ACMECONF"), "event_coverage",
                     "rule 2: hashtag #acmeconf", id="hashtag-any-case-configured-without-hash"),
        pytest.param(mention("acmeconf is great"), "customer_relations", "default segment",
                     id="hashtag-needs-the-hash-in-the-tweet"),
        pytest.param(mention("see you at#acmeconf"), "customer_relations", "default segment",
                     id="hashtag-glued-to-a-word-is-not-a-hashtag"),
        pytest.param(mention("#acmeconfs"), "customer_relations", "default segment",
                     id="hashtag-is-whole"),
        pytest.param(mention("hello", author="@bigpartner"), "partner_support",
                     "rule 3: author @bigpartner", id="author-with-at-any-case"),
        pytest.param(mention("We are Carbon   Neutral now"), "issue_advocacy",
                     "rule 4: regex /carbon\\s+(neutral|negative)/", id="regex-ignores-case"),
        pytest.param(mention("こんにちは", lang="ja"), "product_promotion", "rule 5: lang ja",
                     id="lang"),
        pytest.param(mention("こんにちは", lang=None), "customer_relations", "default segment",
                     id="no-lang-never-matches"),
        pytest.param(mention("boycott acme", sentiment=-0.9), "crisis_management",
                     'rule 6: keyword "boycott"', id="first-matching-rule-wins"),
        pytest.param(mention("what a scam", sentiment=-0.9), "reputation_management",
                     'rule 7: keyword "scam"', id="later-rule-when-earlier-ones-miss"),
        # 2. follow rules: first segment in file order whose follow matches
        pytest.param(mention("outage again"), "customer_relations",
                     'follows keyword "outage"', id="follow-keyword"),
        pytest.param(mention("downtown is lovely"), "customer_relations", "default segment",
                     id="keyword-is-not-a-substring"),
        pytest.param(mention("site down!"), "customer_relations", 'follows keyword "down"',
                     id="keyword-before-punctuation"),
        pytest.param(mention("outage and it is awful", sentiment=-0.9), "customer_relations",
                     'follows keyword "outage"', id="follows-tried-in-file-order"),
        pytest.param(mention("truly awful", sentiment=-0.7), "reputation_management",
                     "follows sentiment -0.7 < -0.5", id="sentiment-only-follow"),
        pytest.param(mention("meh", sentiment=-0.5), "customer_relations", "default segment",
                     id="sentiment-below-is-strict"),
        pytest.param(mention("any promo codes?"), "product_promotion",
                     'follows keyword "promo" and lang en', id="follow-keyword-with-lang-filter"),
        pytest.param(mention("any promo codes?", lang="fr"), "customer_relations",
                     "default segment", id="follow-lang-filter-must-hold"),
        pytest.param(mention("road to net-zero"), "issue_advocacy", "follows regex /\\bnet[- ]?zero\\b/",
                     id="follow-regex"),
        pytest.param(mention("hi", author="GreenPeace"), "issue_advocacy",
                     "follows author @greenpeace", id="follow-author"),
        pytest.param(mention("hola"), "customer_relations", "default segment",
                     id="mentions-true-alone-does-not-route"),
        pytest.param(mention("hola", lang="es"), "spanish_desk", "follows lang es",
                     id="lang-only-follow"),
        # 3. default
        pytest.param(mention("hello there"), "customer_relations", "default segment",
                     id="default"),
    ],
)  # fmt: skip
def test_route(config: BrandConfig, facts: MentionFacts, segment: str, reason: str) -> None:
    decision = explain_route(facts, config)
    assert (decision.segment, decision.reason) == (segment, reason)
    assert route(facts, config) == segment


def test_a_changed_config_routes_by_its_own_rules(config: BrandConfig) -> None:
    facts = mention("outage")
    changed = config.model_copy(
        update={"routing": config.routing.model_copy(update={"default_segment": "issue_advocacy"})}
    )
    assert route(mention("hello"), changed) == "issue_advocacy"
    assert route(facts, config) == "customer_relations"


def test_any_object_with_the_mention_attributes_can_be_routed(config: BrandConfig) -> None:
    class StoredMention:  # e.g. the database row
        text = "#AcmeConf keynote"
        author_handle = "sam"
        lang = "en"
        sentiment = 0.3

    assert route(StoredMention(), config) == "event_coverage"


@given(
    text=st.text(max_size=200),
    author=st.text(max_size=20),
    lang=st.none() | st.sampled_from(["en", "es", "ja", "und"]) | st.text(max_size=5),
    sentiment=st.none() | st.floats(min_value=-1, max_value=1),
)
def test_route_always_names_a_configured_segment(
    text: str, author: str, lang: str | None, sentiment: float | None
) -> None:
    decision = explain_route(MentionFacts(text, author, lang, sentiment), EXAMPLE)
    assert decision.segment in EXAMPLE.segment_names()
    assert decision.reason
