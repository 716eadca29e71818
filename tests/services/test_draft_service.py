"""DraftService on a real database: drafting, four-eyes approval bound to the exact text,
rejecting, taking a tweet down — and every refusal audited as `draft.refused`."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlmodel import col
from support import TEST_CONFIG

from bot.core.db import transaction
from bot.core.errors import ActionRefused
from bot.core.models import Draft, DraftApproval, DraftState, SlackMessage
from bot.drafts.service import AUTHOR_DM, DraftInvalid, DraftRequest
from bot.fakes.services import ServiceKit
from bot.slack.directory import SLACK_UNAVAILABLE
from policies.lint import text_fingerprint

CRISIS = "crisis_management"  # two approvals from S0CRISIS
TEXT = "Back online now: thanks for bearing with us"


def _create(kit: ServiceKit, text: str = TEXT, *, segment: str = "customer_relations") -> Draft:
    """Alice drafts through the service; its approval card is delivered to Slack."""
    draft = kit.drafts.create(
        author=kit.person("U0ALICE"), request=DraftRequest("acme", segment, text)
    )
    kit.deliver()
    return kit.draft(draft.id)


def _approvals(kit: ServiceKit, draft: Draft) -> list[tuple[str, str]]:
    with transaction(kit.engine) as session:
        rows = session.scalars(select(DraftApproval).where(col(DraftApproval.draft_id) == draft.id))
        return [(a.approver_id, a.text_hash) for a in rows]


def _refused(kit: ServiceKit, draft: Draft | None = None) -> list[dict[str, str]]:
    """What each `draft.refused` entry (of this draft) says: attempted, channel, reason."""
    subject = f"draft:{draft.id}" if draft is not None else None
    return [json.loads(str(e.after)) for e in kit.audit("draft.refused", subject=subject)]


def _count(kit: ServiceKit, model: type[Draft] | type[SlackMessage]) -> int:
    with transaction(kit.engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# -- drafting -------------------------------------------------------------------------------


def test_a_draft_is_stored_with_its_card_in_its_segments_channel_and_audited(
    kit: ServiceKit,
) -> None:
    draft = _create(kit)

    assert draft.state == DraftState.PENDING and draft.text_hash == text_fingerprint(TEXT)
    card = kit.card(draft.card_id)
    posted = kit.slack.message("C0CUSTOMER", str(card.ts))
    assert posted["metadata"]["event_payload"] == {"id": card.id} and TEXT in posted["text"]
    (entry,) = kit.audit("draft.create", subject=f"draft:{draft.id}")
    assert entry.actor_id == "U0ALICE" and json.loads(str(entry.after))["text"] == TEXT


@pytest.mark.parametrize(
    ("text", "link", "field", "says"),
    [
        ("We guarantee a fix by noon", None, "text", "guarantee"),
        ("Our status page has the details", "https://elsewhere.example/status", "link", "acme.com"),
        ("x" * 281, None, "text", "280"),
    ],
    ids=["banned term", "link domain", "too long"],
)
def test_what_the_lint_finds_is_refused_and_nothing_is_stored(
    kit: ServiceKit, text: str, link: str | None, field: str, says: str
) -> None:
    request = DraftRequest("acme", "customer_relations", text, link)
    with pytest.raises(DraftInvalid) as refused:
        kit.drafts.create(author=kit.person("U0ALICE"), request=request)

    assert [i.field for i in refused.value.issues] == [field]
    assert says in refused.value.issues[0].message
    assert (_count(kit, Draft), _count(kit, SlackMessage), kit.audit()) == (0, 0, [])


GUARDED = TEST_CONFIG.replace(
    "  - {handle: acme, credentials_env: ACME}\n",
    "  - {handle: acme, credentials_env: ACME}\n  - {handle: acmehelp, credentials_env: HELP}\n",
).replace(
    '    approvers: ["S0CRISIS"]\n', '    approvers: ["S0CRISIS"]\n    accounts: [acmehelp]\n'
)


def test_a_segment_may_not_post_as_an_account_another_segment_guards(
    make_kit: Callable[..., ServiceKit],
) -> None:
    kit = make_kit(GUARDED)
    alice = kit.person("U0ALICE")
    with pytest.raises(DraftInvalid) as refused:
        kit.drafts.create(
            author=alice, request=DraftRequest("acmehelp", "customer_relations", TEXT)
        )
    (issue,) = refused.value.issues
    assert issue.field == "account" and "guarded by Crisis management" in issue.message
    assert _count(kit, Draft) == 0

    allowed = kit.drafts.create(author=alice, request=DraftRequest("acmehelp", CRISIS, TEXT))
    assert kit.draft(allowed.id).account == "acmehelp"


def test_a_reply_belongs_to_its_mentions_segment_whatever_the_form_says(kit: ServiceKit) -> None:
    mention = kit.add_mention("@acme was there a breach?", segment=CRISIS)
    request = DraftRequest("acme", "customer_relations", TEXT, in_reply_to=mention.id)

    # A crisis responder: only they may reply to a crisis mention (checked when it is drafted).
    draft = kit.drafts.create(author=kit.person("U0CRISIS1"), request=request)

    assert kit.draft(draft.id).segment == CRISIS
    assert kit.card(draft.card_id).channel == "C0CRISIS"
    with pytest.raises(DraftInvalid, match="isn't one of my mentions"):
        kit.drafts.create(
            author=kit.person("U0ALICE"),
            request=DraftRequest("acme", CRISIS, TEXT, in_reply_to="1"),
        )


# -- approving ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        ("U0BOB", "You wrote this draft"),
        ("U0CAROL", "You edited this text"),
        ("U0MALLORY", "not an approver"),
    ],
    ids=["author", "editor", "outsider"],
)
def test_four_eyes_the_author_an_editor_and_an_outsider_may_not_approve(
    kit: ServiceKit, user: str, reason: str
) -> None:
    # Bob and Carol are approvers of the segment: only having written the text stops them.
    draft = kit.add_draft(author="U0BOB", edited_by=["U0CAROL"])

    with pytest.raises(ActionRefused, match=reason):
        kit.drafts.approve(kit.on_draft(user, draft))

    assert kit.draft(draft.id).state == DraftState.PENDING and _approvals(kit, draft) == []
    (refusal,) = _refused(kit, draft)
    assert refusal["attempted"] == "approve" and reason in refusal["reason"]
    assert refusal["channel"] == "C0CUSTOMER"

    assert "publish queue" in kit.drafts.approve(kit.on_draft("U0DANA", draft))
    assert kit.draft(draft.id).state == DraftState.APPROVED


def test_an_approval_is_of_the_exact_text_the_approver_saw(kit: ServiceKit) -> None:
    draft = _create(kit)
    stale = text_fingerprint("Back online now")

    with pytest.raises(ActionRefused, match="text changed since you saw it"):
        kit.drafts.approve(kit.on_draft("U0BOB", draft, text_hash=stale))
    assert _approvals(kit, draft) == [] and kit.draft(draft.id).state == DraftState.PENDING
    assert [r["attempted"] for r in _refused(kit, draft)] == ["approve"]

    kit.drafts.approve(kit.on_draft("U0BOB", draft))
    assert _approvals(kit, draft) == [("U0BOB", draft.text_hash)]


def test_an_edit_voids_every_approval(kit: ServiceKit) -> None:
    draft = _create(kit, segment=CRISIS)
    assert "waiting for 1 more" in kit.drafts.approve(kit.on_draft("U0CRISIS1", draft))

    new_text = "Back online now: thank you all for bearing with us"
    kit.drafts.edit(kit.on_draft("U0ALICE", draft), text=new_text)
    edited = kit.draft(draft.id)
    assert edited.text == new_text and _approvals(kit, draft) == []

    # The first approver's click on the card as it was does nothing ...
    with pytest.raises(ActionRefused, match="text changed"):
        kit.drafts.approve(kit.on_draft("U0CRISIS1", draft))
    # ... and one approval of the new text is one of two, not the second.
    assert "1 of 2" in kit.drafts.approve(kit.on_draft("U0CRISIS2", edited))
    assert kit.draft(draft.id).state == DraftState.PENDING
    assert _approvals(kit, draft) == [("U0CRISIS2", text_fingerprint(new_text))]


def test_reaching_the_threshold_queues_the_draft_once(kit: ServiceKit) -> None:
    draft = _create(kit, segment=CRISIS)

    assert "waiting for 1 more" in kit.drafts.approve(kit.on_draft("U0CRISIS1", draft))
    assert kit.draft(draft.id).state == DraftState.PENDING
    assert "publish queue" in kit.drafts.approve(kit.on_draft("U0CRISIS2", draft))
    queued = kit.draft(draft.id)
    assert queued.state == DraftState.APPROVED and queued.due_at == kit.clock.now()
    with pytest.raises(ActionRefused, match="already approved"):
        kit.drafts.approve(kit.on_draft("U0CRISIS3", draft))

    subject = f"draft:{draft.id}"
    assert len(kit.audit("draft.approved", subject=subject)) == 1
    assert [e.actor_id for e in kit.audit("draft.approve", subject=subject)] == [
        "U0CRISIS1",
        "U0CRISIS2",
    ]


def test_approving_the_same_text_twice_counts_once(kit: ServiceKit) -> None:
    draft = _create(kit, segment=CRISIS)
    kit.drafts.approve(kit.on_draft("U0CRISIS1", draft))

    again = kit.drafts.approve(kit.on_draft("U0CRISIS1", draft))

    assert again == "You have already approved this text (1 of 2)."
    assert _approvals(kit, draft) == [("U0CRISIS1", draft.text_hash)]
    assert len(kit.audit("draft.approve", subject=f"draft:{draft.id}")) == 1
    assert kit.draft(draft.id).state == DraftState.PENDING


def test_an_approval_slack_cannot_check_is_refused_and_audited(kit: ServiceKit) -> None:
    draft = _create(kit)
    kit.slack.fail_next("usergroups.users.list", status=503, retry_after=None, count=5)

    with pytest.raises(ActionRefused) as refused:
        kit.drafts.approve(kit.on_draft("U0BOB", draft))

    assert str(refused.value) == SLACK_UNAVAILABLE and _approvals(kit, draft) == []
    assert [r["reason"] for r in _refused(kit, draft)] == [SLACK_UNAVAILABLE]


# -- rejecting ------------------------------------------------------------------------------


def test_the_author_withdraws_a_draft_without_asking_slack(kit: ServiceKit) -> None:
    draft = _create(kit)
    lookups = len(kit.slack.calls_to("usergroups.users.list"))

    kit.drafts.reject(kit.on_draft("U0ALICE", draft), reason="posted too early")

    rejected = kit.draft(draft.id)
    assert rejected.state == DraftState.REJECTED and rejected.rejected_by == "U0ALICE"
    assert len(kit.slack.calls_to("usergroups.users.list")) == lookups
    assert kit.messages(AUTHOR_DM) == []  # nobody to tell: it was the author


def test_an_approver_rejects_and_the_author_reads_why(kit: ServiceKit) -> None:
    draft = _create(kit)

    kit.drafts.reject(kit.on_draft("U0BOB", draft), reason="Legal has to see it first")
    kit.deliver()

    assert kit.draft(draft.id).state == DraftState.REJECTED
    (dm,) = kit.messages(AUTHOR_DM)
    assert dm.channel == "U0ALICE" and dm.ts is not None
    assert "Legal has to see it first" in kit.slack.message("U0ALICE", dm.ts)["text"]
    (entry,) = kit.audit("draft.reject", subject=f"draft:{draft.id}")
    assert entry.actor_id == "U0BOB"


def test_only_an_approver_or_the_author_may_reject(kit: ServiceKit) -> None:
    draft = _create(kit)

    with pytest.raises(ActionRefused, match="approvers \\(or the author"):
        kit.drafts.reject(kit.on_draft("U0MALLORY", draft), reason="I don't like it")
    with pytest.raises(ActionRefused, match="Say why"):
        kit.drafts.reject(kit.on_draft("U0BOB", draft), reason="  ")

    assert kit.draft(draft.id).state == DraftState.PENDING
    assert [(r["attempted"], r["channel"]) for r in _refused(kit, draft)] == [
        ("reject", "C0CUSTOMER")
    ]
    assert kit.messages(AUTHOR_DM) == []


# -- taking a tweet down --------------------------------------------------------------------


def _posted(kit: ServiceKit) -> Draft:
    draft = kit.add_draft(DraftState.APPROVED, approved_by=["U0BOB"])
    assert kit.publisher.publish_due() == 1
    kit.deliver()
    posted = kit.draft(draft.id)
    assert posted.tweet_id in {t["id"] for t in kit.x.posted_by("acme")}
    return posted


def test_a_take_down_needs_a_second_person(kit: ServiceKit) -> None:
    draft = _posted(kit)

    for _ in range(2):  # asking twice is still one person asking
        said = kit.drafts.delete(kit.on_draft("U0BOB", draft))
        assert said.startswith("Deletion requested")
        assert kit.draft(draft.id).state == DraftState.POSTED and kit.x.posted_by("acme")

    assert kit.drafts.delete(kit.on_draft("U0CAROL", draft)) == "Deleted from X."
    deleted = kit.draft(draft.id)
    assert deleted.state == DraftState.DELETED and deleted.deleted_by == "U0CAROL"
    assert kit.x.posted_by("acme") == []
    (entry,) = kit.audit("draft.delete", subject=f"draft:{draft.id}")
    assert json.loads(str(entry.after))["requested_by"] == "U0BOB"


def test_an_admin_takes_a_tweet_down_alone(kit: ServiceKit) -> None:
    draft = _posted(kit)

    assert kit.drafts.delete(kit.on_draft("U0ADMIN", draft)) == "Deleted from X."

    assert kit.draft(draft.id).state == DraftState.DELETED and kit.x.posted_by("acme") == []


def test_someone_neither_approver_nor_admin_may_not_take_a_tweet_down(kit: ServiceKit) -> None:
    draft = _posted(kit)

    with pytest.raises(ActionRefused, match="approvers or an admin"):
        kit.drafts.delete(kit.on_draft("U0MALLORY", draft))

    assert kit.draft(draft.id).delete_requested_by is None and kit.x.posted_by("acme")
    assert [r["attempted"] for r in _refused(kit, draft)] == ["delete"]


def test_an_accounts_floor_holds_a_draft_filed_under_a_lenient_segment(
    make_kit: Callable[..., ServiceKit],
) -> None:
    careful = "{handle: acme, credentials_env: ACME, min_approvals: 2}"
    kit = make_kit(TEST_CONFIG.replace("{handle: acme, credentials_env: ACME}", careful))
    draft = _create(kit)  # customer relations asks for one approval; @acme for two

    assert "waiting for 1 more" in kit.drafts.approve(kit.on_draft("U0BOB", draft))
    assert kit.draft(draft.id).state == DraftState.PENDING
    assert kit.publisher.publish_due() == 0 and kit.x.posted_by("acme") == []
    assert "publish queue" in kit.drafts.approve(kit.on_draft("U0CAROL", draft))
    assert kit.publisher.publish_due() == 1 and len(kit.x.posted_by("acme")) == 1
