"""Shared test data and helpers (tests/ is on pytest's pythonpath)."""

from sqlalchemy import select

from bot.core.db import make_engine, transaction
from bot.core.models import SlackMessage


def card_recorded(database_url: str, ts: str) -> bool:
    """Has the app recorded the Slack message with this ts (it learns the ts just after Slack)?"""
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            found = session.scalars(select(SlackMessage).where(SlackMessage.ts == ts)).first()
            return found is not None
    finally:
        engine.dispose()


TEST_CONFIG = """
brand: Acme
admins: ["U0ADMIN"]
accounts:
  - {handle: acme, credentials_env: ACME}
poll_seconds: 15
segments:
  customer_relations:
    channel: C0CUSTOMER
    approvers: ["S0CARE"]
    first_response_minutes: 15
    follow: {keywords: [outage, refund]}
    create: {banned_terms: [guarantee], allowed_link_domains: [acme.com]}
  crisis_management:
    channel: C0CRISIS
    approvers: ["S0CRISIS"]
    responders: ["S0CRISIS"]
    first_response_minutes: 10
    follow: {keywords: [breach]}
  reputation_management:
    channel: C0REPUTATION
    follow: {sentiment_below: -0.5}
  event_coverage:
    channel: C0EVENTS
    follow: {hashtags: ["#acmeconf"]}
  product_promotion:
    channel: C0PROMO
    follow: {keywords: [promo]}
  issue_advocacy:
    channel: C0ADVOCACY
    follow: {keywords: [privacy]}
routing:
  default_segment: customer_relations
  rules:
    - {segment: crisis_management, keywords: [hacked, lawsuit], sentiment_below: -0.3}
"""
