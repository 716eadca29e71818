"""A second adversarial review of issue 10 at the service level: the App Home with assignments and
Replied mentions, a card's reply line when a posted reply is followed by another draft, the
hourly limit against lateness, and Block Kit's limits on what app.yaml lets a segment hold."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import update
from sqlmodel import col
from support import TEST_CONFIG

from bot.core.audit_report import render_who, who_tweeted
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Draft, DraftState, MentionState, SlackMessage
from bot.drafts.service import DraftRequest
from bot.fakes.services import ServiceKit, add_mention
from bot.mentions.rendering import mention_card_renderer
from bot.slack.cards.app_home import build_home
from bot.slack.cards.author_history import AuthorView, PastMention, build_history_modal
from bot.slack.cards.inbox_modals import build_resolve_selected_modal
from policies.config import ConfigError, parse_config

POSTS = "POST /2/tweets"


def _home(kit: ServiceKit, user_id: str) -> str:
    content = kit.tabs.content
    return str(build_home(content.view_for(user_id, content.snapshot())))


def _card(kit: ServiceKit, mention_id: str) -> str:
    render = mention_card_renderer(kit.ctx.segments)
    with transaction(kit.engine) as session:
        card = session.get(SlackMessage, kit.mention(mention_id).card_id)
        assert card is not None
        return str(render(session, card).blocks)


def _ingest(kit: ServiceKit, text: str) -> str:
    """A tweet on the fake X, polled and carded (a reply to it can reach X)."""
    tweet_id = str(kit.x.add_tweet(author="dana", text=text)["id"])
    kit.clock.advance(seconds=kit.config.poll_seconds)  # type: ignore[attr-defined]
    kit.ingestor.poll_due()
    kit.deliver()
    return tweet_id


def _reply(kit: ServiceKit, mention_id: str, text: str) -> Draft:
    request = DraftRequest("acme", "customer_relations", text, in_reply_to=mention_id)
    draft = kit.drafts.create(author=kit.person("U0ALICE"), request=request)
    kit.deliver()
    return kit.draft(draft.id)


# -- the App Home -----------------------------------------------------------------------------


def test_a_mention_assigned_to_someone_is_on_their_home(kit: ServiceKit) -> None:
    """The DM says "claim it on its card"; the assignee's home lists their claimed mentions
    only, so an assignment they did not act on at once was nowhere on their home."""
    mention = kit.add_mention("@acme my refund never arrived")
    kit.person("U0CAROL")
    kit.inbox.assign(kit.on_mention("U0BOB", mention), "U0CAROL")

    home = _home(kit, "U0CAROL")
    assert "my refund never arrived" in home
    assert "assigned to you by <@U0BOB>" in home


def test_a_replied_mention_no_longer_nags_its_claimer(kit: ServiceKit) -> None:
    mention = kit.mention(_ingest(kit, "@acme my refund never arrived"))
    kit.mentions.claim(kit.on_mention("U0ALICE", mention))
    assert "my refund never arrived" in _home(kit, "U0ALICE")
    draft = _reply(kit, mention.id, "@dana sorry, sending it now")
    kit.drafts.approve(kit.on_draft("U0BOB", kit.draft(draft.id)))
    kit.publisher.publish_due()
    assert kit.mention(mention.id).state == MentionState.REPLIED

    assert "my refund never arrived" not in _home(kit, "U0ALICE")


# -- the mention card's reply line ------------------------------------------------------------


def test_a_second_reply_rejected_after_one_was_posted_keeps_the_posted_one_on_the_card(
    kit: ServiceKit,
) -> None:
    """Replied offers Reply again; the card showed only the newest draft, so a rejected second
    try hid the reply that is on X (the card read "Replied" and "rejected", with no link)."""
    mention = kit.mention(_ingest(kit, "@acme my refund never arrived"))
    first = _reply(kit, mention.id, "@dana sorry, sending it now")
    kit.drafts.approve(kit.on_draft("U0BOB", kit.draft(first.id)))
    kit.publisher.publish_due()
    posted = kit.draft(first.id)
    assert posted.state == DraftState.POSTED

    second = _reply(kit, mention.id, "@dana also, here is a voucher")
    kit.drafts.reject(kit.on_draft("U0BOB", kit.draft(second.id)), reason="no vouchers")

    card = _card(kit, mention.id)
    assert "rejected by <@U0BOB>" in card
    assert f"https://x.com/acme/status/{posted.tweet_id}|view on X" in card


# -- the hourly limit and lateness ------------------------------------------------------------


def _limit(posts: int) -> str:
    account = "{handle: acme, credentials_env: ACME"
    return TEST_CONFIG.replace(account + "}", f"{account}, max_posts_per_hour: {posts}}}")


def _approved(kit: ServiceKit, text: str) -> Draft:
    draft = kit.add_draft(DraftState.APPROVED, text=text, approved_by=["U0BOB"])
    with transaction(kit.engine) as session:  # as DraftService._queue sets it
        session.execute(
            update(Draft).where(col(Draft.id) == draft.id).values(wanted_at=kit.clock.now())
        )
    return kit.draft(draft.id)


def test_a_post_waiting_for_its_slot_goes_out_then_without_asking(
    make_kit: Callable[..., ServiceKit], clock: FakeClock
) -> None:
    kit = make_kit(_limit(1))
    first = _approved(kit, "Update 1 on the outage")
    kit.publisher.publish_due()
    clock.advance(minutes=1)
    second = _approved(kit, "Update 2 on the outage")
    kit.publisher.publish_due()
    assert kit.draft(second.id).state == DraftState.APPROVED  # its slot is in 59 min

    clock.advance(minutes=59)
    kit.publisher.publish_due()
    assert kit.draft(first.id).state == DraftState.POSTED
    assert kit.draft(second.id).state == DraftState.POSTED


def test_a_post_the_limit_delayed_and_x_then_kept_down_40_min_is_held_and_released_once(
    make_kit: Callable[..., ServiceKit], clock: FakeClock
) -> None:
    kit = make_kit(_limit(1))
    _approved(kit, "Update 1 on the outage")
    kit.publisher.publish_due()
    clock.advance(minutes=1)
    second = _approved(kit, "Update 2 on the outage")
    kit.publisher.publish_due()

    clock.advance(minutes=59)  # its slot, and X is down for the posts
    kit.x.fail(POSTS, status=503, count=1000)
    kit.publisher.publish_due()
    assert kit.draft(second.id).state == DraftState.POSTING
    for _ in range(8):
        clock.advance(minutes=5)
        kit.publisher.publish_due()
    kit.x.stop_failing()
    kit.publisher.publish_due()
    held = kit.draft(second.id)
    assert held.state == DraftState.HELD, held.held_reason
    assert len(kit.x.posted_by("acme")) == 1

    kit.drafts.release(kit.on_draft("U0BOB", held))
    kit.publisher.publish_due()
    assert kit.draft(second.id).state == DraftState.POSTED
    assert len(kit.x.posted_by("acme")) == 2


# -- Block Kit's limits on what app.yaml lets a segment hold ----------------------------------


def _with(key: str, value: str) -> str:
    anchor = "    first_response_minutes: 15\n"
    return TEST_CONFIG.replace(anchor, f"{anchor}    {key}: {value}\n", 1)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tags", "[" + ", ".join(f"t{i}" for i in range(101)) + "]"),
        (
            "saved_replies",
            "[" + ", ".join(f"{{name: r{i}, text: hi}}" for i in range(101)) + "]",
        ),
    ],
)
def test_more_tags_or_saved_replies_than_a_slack_menu_holds_is_a_config_error(
    key: str, value: str
) -> None:
    """A multi-select (tags) or a select (saved replies) holds at most 100 options: with 101
    tags every card of the segment failed to build (slack_sdk raises), and the 101st saved
    reply was silently never offered."""
    with pytest.raises(ConfigError) as caught:
        parse_config(_with(key, value), filename="app.yaml")
    issue = caught.value.issues[0]
    assert issue.key == f"segments.customer_relations.{key}"
    assert issue.line == 12  # TEST_CONFIG starts with a newline
    assert "at most 100" in issue.message


def test_a_segment_with_100_tags_still_renders_its_cards(
    make_kit: Callable[..., ServiceKit],
) -> None:
    kit = make_kit(_with("tags", "[" + ", ".join(f"t{i}" for i in range(100)) + "]"))
    mention = kit.add_mention()
    assert "t99" in _card(kit, mention.id)


# -- conversations ----------------------------------------------------------------------------


def test_someone_else_writing_in_an_answered_conversation_is_named_as_who_wrote(
    kit: ServiceKit,
) -> None:
    """Any new tweet in the conversation is a follow-up (a bystander's "me too" is work too),
    but the answered card said "@dana wrote again" when it was @erin."""
    first = _ingest(kit, "@acme my refund never arrived")
    kit.mentions.resolve(kit.on_mention("U0BOB", kit.mention(first)))
    tweet = kit.x.add_tweet(author="erin", text="@acme same here, no refund", in_reply_to=first)
    kit.clock.advance(seconds=kit.config.poll_seconds)  # type: ignore[attr-defined]
    kit.ingestor.poll_due()
    kit.deliver()
    assert kit.mention(str(tweet["id"])).follow_up_of == first

    card = _card(kit, first)
    assert "@erin wrote again" in card
    assert "@dana wrote again" not in card


# -- brandbot audit who -----------------------------------------------------------------------


def _who(kit: ServiceKit, tweet_id: str) -> str:
    with transaction(kit.engine) as session:
        history = who_tweeted(session, tweet_id)
    assert history is not None, f"audit who {tweet_id}: no tweet in the audit log"
    return render_who(history)


def test_audit_who_finds_a_tweet_a_person_marked_as_posted(kit: ServiceKit) -> None:
    """Mark as posted records `draft.mark_posted`, not `draft.post`: `audit who` said "brandbot
    did not post it" for a tweet the team approved and recorded."""
    draft = kit.add_draft(DraftState.NEEDS_CHECK, approved_by=["U0BOB"])
    tweet = kit.x.add_tweet(author="acme", text=draft.text)
    kit.drafts.mark_posted(kit.on_draft("U0BOB", draft), reference=str(tweet["id"]))
    assert kit.draft(draft.id).state == DraftState.POSTED

    story = _who(kit, str(tweet["id"]))
    assert "Marked as posted by bob (U0BOB), checked on X" in story
    assert f"https://x.com/acme/status/{tweet['id']}" in story


def test_audit_who_of_a_quote_includes_the_mention_it_answered_and_reads_the_new_actions(
    make_kit: Callable[..., ServiceKit],
) -> None:
    kit = make_kit(_with("tags", "[billing, outage]"))
    mention = kit.mention(_ingest(kit, "@acme my refund never arrived"))
    kit.person("U0CAROL")
    kit.inbox.assign(kit.on_mention("U0BOB", mention), "U0CAROL")
    kit.inbox.set_tags(kit.on_mention("U0BOB", kit.mention(mention.id)), ["billing"])
    request = DraftRequest("acme", "customer_relations", "We're on it", quote_of=mention.id)
    draft = kit.drafts.create(author=kit.person("U0ALICE"), request=request)
    kit.deliver()
    kit.drafts.approve(kit.on_draft("U0BOB", kit.draft(draft.id)))
    kit.publisher.publish_due()
    posted = kit.draft(draft.id)
    assert posted.state == DraftState.POSTED and posted.tweet_id

    story = _who(kit, posted.tweet_id)
    assert f"a quote of mention {mention.id}" in story
    assert f"quoting mention {mention.id}" in story
    assert re.search(rf"Mention {mention.id} assigned by bob \(U0BOB\) at [^\n]* to U0CAROL", story)
    assert re.search(r"tagged by bob \(U0BOB\) at [^\n]* — tags: billing", story)
    assert f"Mention {mention.id} answered on X (draft {draft.id})" in story


# -- Block Kit limits on the new surfaces -----------------------------------------------------


def test_the_history_modal_never_cuts_an_escaped_character_in_half(kit: ServiceKit) -> None:
    """The author's earlier tweets were escaped, then cut at 199 characters: 300 '&' became
    '&amp;…&am…' and Slack showed the broken half of the last one."""
    view = AuthorView(
        author_id="200001",
        handle="dana",
        name="Dana",
        earlier_count=1,
        recent=[
            PastMention(
                url="https://x.com/dana/status/1",
                text="&" * 300,
                state="resolved",
                sentiment=0.0,
                tweeted_at=kit.clock.now(),
            )
        ],
    )
    shown = build_history_modal(view)["blocks"][-1]["elements"][0]["text"]
    last_line = shown.splitlines()[-1]
    assert last_line.endswith("&amp;…"), last_line[-12:]


def test_resolve_selected_from_an_older_card_offers_and_preselects_that_mention(
    kit: ServiceKit, clock: FakeClock
) -> None:
    """The form lists the 100 newest mentions with the clicked one preselected; in a surge the
    clicked card's own mention was older than those 100, so it was not even offered."""
    oldest = kit.add_mention("@acme the first of many")
    for n in range(100):
        clock.advance(seconds=1)
        add_mention(
            kit.engine,
            tweet_id=str(1_800_000_000_000_000_000 + n),
            at=clock.now(),
            text=f"@acme outage {n}",
            segment="customer_relations",
            channel="C0CUSTOMER",
        )
    context, _mention, listed, more = kit.inbox.resolve_selected_form(
        kit.on_mention("U0BOB", oldest)
    )
    assert oldest.id in [m.id for m in listed]
    assert len(listed) == 100 and more == 1
    modal = build_resolve_selected_modal(
        context=context, mentions=listed, segment_title="Customer relations", more=more
    )
    element = modal["blocks"][1]["element"]
    assert [o["value"] for o in element["initial_options"]] == [oldest.id]


def test_a_mention_whose_only_reply_was_taken_down_is_no_longer_replied(kit: ServiceKit) -> None:
    mention = kit.mention(_ingest(kit, "@acme my refund never arrived"))
    kit.mentions.claim(kit.on_mention("U0ALICE", mention))
    draft = _reply(kit, mention.id, "@dana sorry, sending it now")
    kit.drafts.approve(kit.on_draft("U0BOB", kit.draft(draft.id)))
    kit.publisher.publish_due()
    assert kit.mention(mention.id).state == MentionState.REPLIED

    assert kit.drafts.delete(kit.on_draft("U0ADMIN", kit.draft(draft.id))) == "Deleted from X."
    assert kit.draft(draft.id).state == DraftState.DELETED
    assert kit.mention(mention.id).state == MentionState.CLAIMED  # back to its claimer
    with transaction(kit.engine) as session:
        history = who_tweeted(session, str(kit.draft(draft.id).tweet_id))
    assert history is not None
    story = render_who(history)
    assert "reopened (its reply was taken down from X)" in story
