"""An adversarial review of issue 10 at the service level: forged requests the forms would not
send, and sentiment a care person would read differently."""

from __future__ import annotations

import pytest

from bot.drafts.service import DraftInvalid, DraftRequest
from bot.fakes.services import ServiceKit
from bot.mentions import sentiment

CRISIS = "crisis_management"  # responders: S0CRISIS


def test_a_forged_reply_from_a_non_responder_is_refused_when_drafted(kit: ServiceKit) -> None:
    """The reply form refuses a non-responder, but a /tweet form whose private_metadata names a
    mention (or a replayed reply form) reaches `create` directly: the rule is checked there."""
    mention = kit.add_mention("@acme was there a breach?", segment=CRISIS)
    request = DraftRequest("acme", CRISIS, "@dana we're looking into it", in_reply_to=mention.id)
    with pytest.raises(DraftInvalid, match="Only this segment's responders can reply"):
        kit.drafts.create(author=kit.person("U0ALICE"), request=request)
    quote = DraftRequest("acme", CRISIS, "Looking into this", quote_of=mention.id)
    with pytest.raises(DraftInvalid, match="Only this segment's responders can reply"):
        kit.drafts.create(author=kit.person("U0ALICE"), request=quote)
    assert kit.drafts.create(author=kit.person("U0CRISIS1"), request=request).id is not None


@pytest.mark.parametrize(
    "text",
    [
        "no refund yet",
        "still no refund",
        "I haven't received my refund",
        "never got a refund",
        "didn't get my refund",
        "no refund, no reply, nothing",
    ],
)
def test_a_refund_that_has_not_come_is_a_complaint_not_praise(text: str) -> None:
    """ "refund" is negative (asking for one is a complaint), so VADER's negation flipped "no
    refund" to positive (+0.28): the missing refund is the complaint."""
    assert sentiment.score(text) <= -0.05
