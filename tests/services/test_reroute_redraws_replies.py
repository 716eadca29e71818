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
