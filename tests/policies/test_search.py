"""What brandbot asks X for: one recent-search query per segment, and whose mentions to poll."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.config import BrandConfig, parse_config
from policies.search import mention_accounts, segment_search_queries

EXAMPLE = Path(__file__).resolve().parents[2] / "app.yaml"

CONFIG = """\
brand: Acme Corp
admins: ["S0ADMINS"]
accounts:
  - {handle: Acme, credentials_env: ACME}
  - {handle: AcmeHelp, credentials_env: ACME_HELP}
segments:
  customer_relations:
    channel: C0CUSTOMER
    follow: {keywords: [outage, refund]}
  event_coverage:
    channel: C0EVENTS
    follow: {hashtags: [AcmeConf], authors: ["@bob"]}
  product_promotion:
    channel: C0PROMO
    follow: {keywords: ["new feature"], hashtags: ["#acmelaunch"], lang: [en, es]}
  reputation_management:
    channel: C0REPUTATION
    follow: {sentiment_below: -0.5, regex: ["sc[a@]m"]}
  issue_advocacy:
    channel: C0ADVOCACY
    follow: {mentions: false, keywords: [c++, OR]}
routing:
  default_segment: customer_relations
"""


def test_queries_for_the_example_config() -> None:
    config = parse_config(EXAMPLE.read_text())
    assert segment_search_queries(config) == {
        "customer_relations": (
            "(outage OR refund OR down OR broken OR help) acme -@acme -is:retweet"
        ),
        "crisis_management": "(hacked OR lawsuit OR breach) acme -@acme -is:retweet",
        "event_coverage": "#acmeconf -@acme -is:retweet",
        "product_promotion": (
            '(promo OR discount OR launch OR "new feature") acme -@acme -is:retweet'
        ),
        "issue_advocacy": (
            '(sustainability OR privacy OR "climate change") acme -@acme -is:retweet'
        ),
        # reputation_management follows sentiment only: nothing to search for
    }


@pytest.fixture(scope="module")
def config() -> BrandConfig:
    return parse_config(CONFIG)


@pytest.mark.parametrize(
    ("segment", "query"),
    [
        pytest.param(
            "customer_relations",
            '(outage OR refund) "acme corp" -@acme -@acmehelp -is:retweet',
            id="keywords-are-and-ed-with-the-brand-name-what-mentions-find-left-out",
        ),
        pytest.param(
            "event_coverage",
            "(#acmeconf OR from:bob) -@acme -@acmehelp -is:retweet",
            id="hashtags-and-authors-search-alone",
        ),
        pytest.param(
            "product_promotion",
            '("new feature" "acme corp" OR #acmelaunch)'
            " (lang:en OR lang:es) -@acme -@acmehelp -is:retweet",
            id="keywords-combined-with-hashtags-narrowed-by-lang",
        ),
        pytest.param(
            "issue_advocacy",
            '("c++" OR "OR") "acme corp" -@acme -@acmehelp -is:retweet',
            id="non-words-and-operators-are-quoted",
        ),
    ],
)
def test_segment_query(config: BrandConfig, segment: str, query: str) -> None:
    assert segment_search_queries(config)[segment] == query


def test_without_the_mentions_timelines_a_search_looks_for_the_handles_too() -> None:
    # no segment follows mentions: the searches are all there is, so they name the handles
    text = CONFIG.replace("mentions: false, ", "").replace(
        "follow: {", "follow: {mentions: false, "
    )
    queries = segment_search_queries(parse_config(text))
    assert queries["customer_relations"] == (
        '(outage OR refund) ("acme corp" OR @acme OR @acmehelp) -is:retweet'
    )
    assert queries["event_coverage"] == "(#acmeconf OR from:bob) -is:retweet"


def test_a_follow_with_only_sentiment_or_regex_needs_no_search(config: BrandConfig) -> None:
    assert "reputation_management" not in segment_search_queries(config)


@pytest.mark.parametrize(
    ("mentions_flags", "expected"),
    [
        pytest.param([True, False], ["acme", "acmehelp"], id="any-segment-wants-mentions"),
        pytest.param([False, False], [], id="no-segment-wants-mentions"),
    ],
)
def test_mention_accounts(mentions_flags: list[bool], expected: list[str]) -> None:
    segments = "".join(
        f"  s{i}:\n    channel: C0CHAN00{i}\n    follow: {{mentions: {str(flag).lower()}}}\n"
        for i, flag in enumerate(mentions_flags)
    )
    text = (
        'brand: Acme\nadmins: ["S0ADMINS"]\naccounts:\n'
        "  - {handle: acme, credentials_env: ACME}\n"
        "  - {handle: acmehelp, credentials_env: ACME_HELP}\n"
        f"segments:\n{segments}routing: {{default_segment: s0}}\n"
    )
    assert mention_accounts(parse_config(text)) == expected
