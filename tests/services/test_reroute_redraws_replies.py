"""Cards render the database at send time: a reply's approval card must show the rules that
apply now, after its mention moved to a stricter segment."""

from __future__ import annotations

from bot.core import outbox
from bot.core.db import transaction
from bot.drafts.service import DraftRequest
from bot.fakes.services import ServiceKit


def test_a_replys_card_shows_the_new_rules_after_its_mention_is_rerouted(kit: ServiceKit) -> None:
    mention = kit.add_mention("@acme is the app down?")
    draft = kit.drafts.create(
        author=kit.person("U0ALICE"),
        request=DraftRequest(
            "acme", "customer_relations", "Looking into it now", in_reply_to=mention.id
        ),
    )
    kit.deliver()
    card = kit.card(kit.draft(draft.id).card_id)
    before = str(kit.slack.message(card.channel, str(card.ts))["blocks"])

    kit.mentions.reroute(kit.on_mention("U0ADMIN", mention), to_segment="crisis_management")
    kit.deliver()

    after = str(kit.slack.message(card.channel, str(card.ts))["blocks"])
    with transaction(kit.engine) as session:  # what a redraw would show now
        outbox.mark_changed(session, card.id, now=kit.clock.now())
    kit.deliver()
    redrawn = str(kit.slack.message(card.channel, str(card.ts))["blocks"])
    assert redrawn != before  # the rules shown do depend on the mention's segment ...
    assert after == redrawn, "... but the reroute left the reply's approval card stale"


def test_a_quote_needs_its_mentions_new_segment_and_its_card_shows_it(kit: ServiceKit) -> None:
    """A quote of a mention answers it like a reply does (invariant 8): when the mention moves to
    crisis, the quote needs crisis approvals, and its approval card says so at once."""
    mention = kit.add_mention("is acme down for anyone else?")
    draft = kit.drafts.create(
        author=kit.person("U0ALICE"),
        request=DraftRequest("acme", "customer_relations", "We're on it", quote_of=mention.id),
    )
    kit.deliver()
    assert [r.segment for r in kit.drafts.rules(kit.draft(draft.id))] == ["customer_relations"]
    card = kit.card(kit.draft(draft.id).card_id)

    kit.mentions.reroute(kit.on_mention("U0ADMIN", mention), to_segment="crisis_management")
    kit.deliver()

    segments = {r.segment for r in kit.drafts.rules(kit.draft(draft.id))}
    assert "crisis_management" in segments
    shown = str(kit.slack.message(card.channel, str(card.ts))["blocks"])
    assert "Crisis management" in shown
