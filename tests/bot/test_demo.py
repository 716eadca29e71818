"""`brandbot demo` tells the whole story, through the real code paths."""

from __future__ import annotations

from bot.demo import run_demo


def test_the_demo_shows_routing_claims_approval_publication_and_who() -> None:
    lines: list[str] = []
    assert run_demo(speed=100, out=lines.append) == 0
    transcript = "\n".join(lines)
    for expected in (
        '→ Crisis management — rule 1: keyword "hacked"',  # routing, with its reason
        "only bob sees: Already claimed by @alice.",  # the claim race, lost politely
        "only alice sees: You wrote this draft",  # no self-approval
        "the form now says: @dana_k sorry, we know about the outage",  # a saved reply, filled
        "@acme posted: @dana_k sorry, we know about the outage",  # on the fake X, once
        "Approved by bob (U0BOB)",  # audit who names the approver
        "the reply form quotes: Answering dana_k @dana_k",  # context on every reply
        "Replied by @alice, approved by @bob — view on X",  # the mention card follows the reply
        "(in the conversation's thread)",  # the customer's follow-up threads under it
        "follow-up of the answered conversation: open",
        "DM to alice: @bob assigned you a mention from @lee_shops",  # Assign to…
        "(in the conversation's thread): Internal note by @bob — never sent to X",  # a note
        "card posted in #crisis_management: @acme posted a reply that nobody approved",
        "mention is replied (replied on X directly)",  # a native reply stops the clock
        "hash chain verified",
        "0 Slack API violations",
        "brandbot report --since 1h (the demo's hour):",  # ends with the report
        "brandbot-demo-report.png",  # and a chart a person can open
    ):
        assert expected in transcript, f"missing from the demo: {expected!r}"
    assert transcript.count("@acme posted:") == 1
