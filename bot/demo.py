"""`brandbot demo`: the whole mention flow on the terminal, with no credentials.

Starts the built-in fake X and fake Slack on loopback, the real app behind its real HTTP server
and workers, feeds a scripted stream of mentions, and lets simulated responders click the
buttons the app posted (signed requests into /slack/events). Everything printed is observed at
the fakes or in the database, as it happens.
"""

from __future__ import annotations

import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from bot.core import audit
from bot.core.audit_report import render_who, who_tweeted
from bot.core.db import transaction
from bot.core.models import Draft, DraftState, Mention, PollCursor, SlackMessage
from bot.fakes.slack_api import FakeSlack
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.inbox_controls import InboxAction
from bot.slack.cards.inbox_modals import SAVED_REPLY_ACTION
from bot.slack.cards.mention_card import MentionAction, segment_label
from policies.config import BrandConfig, parse_config

EXAMPLE_CONFIG = Path(__file__).with_name("example_app.yaml")

PEOPLE = {
    "U0ALICE": "alice",
    "U0BOB": "bob",
    "U0CASEY": "casey",
    "U0DEV": "dev",
    "U0ADMIN": "admin",
}
SCRIPT = [
    ("dana_k", "@acme your app has been down all morning, outage again? I need this for work"),
    ("sam_events", "@acme which room is the keynote in tomorrow? #AcmeConf"),
    ("angry_troll", "@acme you got hacked and leaked my data, worst company ever, lawsuit coming"),
    ("lee_shops", "@acme is there a promo code for the new launch?"),
]


SAVED_REPLY = "Outage apology"  # one of customer_relations' saved replies in app.yaml


class Transcript:
    def __init__(self, out: Callable[[str], None] = print) -> None:
        self._start = time.monotonic()
        self._out = out
        self._lock = threading.Lock()

    def say(self, who: str, text: str) -> None:
        with self._lock:
            self._out(f"[{time.monotonic() - self._start:5.1f}s] {who:<7} {text}")


def run_demo(*, speed: float = 1.0, out: Callable[[str], None] = print) -> int:
    config = parse_config(EXAMPLE_CONFIG.read_text(), filename=str(EXAMPLE_CONFIG))
    log = Transcript(out)
    pause = lambda seconds: time.sleep(seconds / max(speed, 0.01))  # noqa: E731  (pacing for people)
    with tempfile.TemporaryDirectory() as tmp:
        world = FakeWorld(config=config, database_url=f"sqlite:///{Path(tmp) / 'demo.db'}")
        world.start()
        try:
            _narrate_slack(world, log, config)
            _play(world, log, config, pause)
        finally:
            world.stop()
    return 0


def _narrate_slack(world: FakeWorld, log: Transcript, config: BrandConfig) -> None:
    channels = {s.channel: name for name, s in config.segments.items()}
    first_card = threading.Event()

    def readable(text: str) -> str:
        text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
        text = re.sub(r"<@(U\w+)>", lambda m: "@" + PEOPLE.get(m[1], m[1]), text)
        text = re.sub(r"<#(C\w+)>", lambda m: "#" + channels.get(m[1], m[1]), text)
        text = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", text)
        text = re.sub(r":[a-z_]+: ", "", text)
        return text.replace("*", "").replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")

    def on_call(call: Any) -> None:
        if call.http_status != 200 or not call.response.get("ok"):
            return
        args = call.args
        where = f"#{channels.get(args.get('channel', ''), args.get('channel', ''))}"
        if call.method == "chat.postMessage" and str(args.get("channel", "")).startswith("U"):
            who = PEOPLE.get(args["channel"], args["channel"])
            first_line = readable(str(args.get("text", ""))).splitlines()[0]
            log.say("slack", f"DM to {who}: {first_line}")
        elif call.method == "chat.postMessage":
            thread = " (in the conversation's thread)" if args.get("thread_ts") else ""
            log.say(
                "slack",
                f"card posted in {where}{thread}: {readable(str(args.get('text', '')))[:64]}…",
            )
            if not first_card.is_set():
                first_card.set()
                for line in _card_lines(args.get("blocks") or [], readable):
                    log.say("", f"  │ {line}")
        elif call.method == "chat.update":
            log.say("slack", f"card updated in {where}: {readable(_status(args.get('blocks')))}")
        elif call.method == "chat.postEphemeral":
            user = PEOPLE.get(args["user"], args["user"])
            log.say("slack", f"only {user} sees: {readable(str(args.get('text')))}")
        elif call.method == "views.open":
            log.say("slack", "modal opened: " + str(args["view"]["title"]["text"]))

    world.slack.on_call = on_call


def _card_lines(blocks: list[dict[str, Any]], readable: Callable[[str], str]) -> list[str]:
    """The card as a person would read it in Slack, buttons in [brackets]."""
    lines: list[str] = []
    for block in blocks:
        texts = [block.get("text") or {}, *(block.get("elements") or [])]
        for item in texts:
            if item.get("type") in ("button", "static_select"):
                label = (item.get("text") or item.get("placeholder") or {}).get("text", "")
                lines.append(f"[{label}]")
            elif item.get("text"):
                lines += readable(str(item["text"])).splitlines()
    buttons = " ".join(line for line in lines if line.startswith("["))
    return [line for line in lines if not line.startswith("[")] + [buttons]


def _status(blocks: Any) -> str:
    for block in blocks or []:
        text = (block.get("text") or {}).get("text", "") if isinstance(block, dict) else ""
        if text.startswith(":"):
            return text.split(" ", 1)[1]
    return "(updated)"


def _play(
    world: FakeWorld, log: Transcript, config: BrandConfig, pause: Callable[[float], None]
) -> None:
    world.slack.set_usergroup("S0ADMINS", ["U0ADMIN"])
    for group in {p for s in config.segments.values() for p in s.approvers if p.startswith("S")}:
        world.slack.set_usergroup(group, ["U0BOB", "U0CASEY"])
    for group in {p for s in config.segments.values() for p in s.responders if p.startswith("S")}:
        world.slack.set_usergroup(group, ["U0ALICE", "U0BOB", "U0CASEY", "U0DEV"])
    log.say(
        "app",
        f"brandbot for {config.brand} listening on {world.app_url} (every request signature-checked)",
    )
    log.say(
        "app",
        f"watching @{', @'.join(a.handle for a in config.accounts)}; {len(config.segments)} segments",
    )

    ids = []
    for author, text in SCRIPT:
        tweet = world.x.add_tweet(author=author, text=text)
        ids.append(tweet["id"])
        log.say("x", f"@{author}: {text}")
        pause(0.3)

    log.say("poller", "polling X: the account's mentions and each segment's searches")
    for result in world.poll():
        if result.stored or result.error:
            log.say(
                "poller",
                f"{result.source}: {result.fetched} fetched, {result.stored} new"
                + (f" ({result.error})" if result.error else ""),
            )
    with transaction(world.db) as session:
        for tweet_id in ids:
            m = session.get(Mention, tweet_id)
            assert m is not None
            log.say(
                "route",
                f"@{m.author_handle} → {segment_label(m.segment)} — {m.route_reason} (sentiment {m.sentiment:+.2f})",
            )
    log.say("outbox", "delivering the queued cards to Slack")
    world.runtime.start_workers(poll=False)
    world.slack.wait_for(lambda s: len(s.calls_to("chat.postMessage")) >= len(ids), timeout=30)
    pause(0.5)

    alice, bob, casey, dev = (
        world.user(uid, PEOPLE[uid]) for uid in ("U0ALICE", "U0BOB", "U0CASEY", "U0DEV")
    )
    outage, event, hostile, promo = ids

    _click(world, log, alice, outage, MentionAction.CLAIM, "Claim")
    _click(world, log, bob, outage, MentionAction.CLAIM, "Claim (too late)", stale=True)
    _click(world, log, dev, event, MentionAction.CLAIM, "Claim")
    _click(world, log, casey, hostile, MentionAction.CLAIM, "Claim")
    _click(
        world,
        log,
        bob,
        promo,
        MentionAction.REROUTE,
        "Reroute → Customer relations",
        option="customer_relations",
    )
    _work_as_inbox(world, log, assigner=bob, assignee=alice, mention_id=promo)
    _click(world, log, dev, event, MentionAction.RESOLVE, "Resolve")
    _reply_through_approval(world, log, author=alice, approver=bob, mention_id=outage)
    _click(world, log, alice, outage, MentionAction.RESOLVE, "Resolve")
    _follow_up(world, log, outage)
    _dismiss(world, log, casey, hostile)
    _replied_on_x(world, log, promo)

    world.slack.wait_for(lambda _: world.runtime.outbox.pending_count() == 0, timeout=30)
    with transaction(world.db) as session:
        checked, broken = audit.verify(session)
    log.say(
        "audit",
        f"{checked} entries, hash chain {'BROKEN at ' + str(broken.seq) if broken else 'verified'}",
    )
    counts = dict.fromkeys(("open", "claimed", "replied", "resolved", "dismissed"), 0)
    with transaction(world.db) as session:
        for m in session.scalars(select(Mention)):
            counts[m.state] += 1
    log.say(
        "done",
        ", ".join(f"{n} {s}" for s, n in counts.items())
        + f"; {len(world.slack.violations)} Slack API violations",
    )
    _report(world, log)


def _report(world: FakeWorld, log: Transcript) -> None:
    """What `brandbot report --since 1h --png …` shows for the demo's hour, and its chart."""
    from bot.reports.chart import render_png
    from bot.reports.rendering import to_text

    report = world.runtime.services.reports.build("hour", since="1h")
    chart = Path(tempfile.gettempdir()) / "brandbot-demo-report.png"
    chart.write_bytes(render_png(report))
    log.say("report", "brandbot report --since 1h (the demo's hour):")
    for line in to_text(report).rstrip("\n").splitlines():
        log.say("report", line)
    log.say("report", f"chart written to {chart}")


def _click(
    world: FakeWorld,
    log: Transcript,
    user: SlackUser,
    mention_id: str,
    action: str,
    label: str,
    *,
    option: str | None = None,
    options: list[str] | None = None,
    stale: bool = False,
) -> None:
    world.slack.wait_for(lambda _: world.runtime.outbox.pending_count() == 0, timeout=30)
    card = world.card(mention_id)
    log.say("click", f"{user.name} → {label} on @{world.mention(mention_id).author_handle}'s card")
    before = len(world.slack.calls)
    if stale:  # the button as it was on their screen a moment ago
        user.forge_action(channel=card.channel, ts=str(card.ts), action_id=action, value=mention_id)
    else:
        user.click(
            channel=card.channel, ts=str(card.ts), action_id=action, option=option, options=options
        )
    world.slack.wait_for(
        lambda s: any(
            c.method in ("chat.update", "chat.postEphemeral", "views.open")
            for c in s.calls[before:]
        ),
        timeout=30,
    )


def _work_as_inbox(
    world: FakeWorld, log: Transcript, *, assigner: SlackUser, assignee: SlackUser, mention_id: str
) -> None:
    """Assign to… (the assignee gets a DM), a tag, and an internal note in the card's thread."""
    world.slack.wait_for(lambda _: world.runtime.outbox.pending_count() == 0, timeout=30)
    label = f"Assign to… {assignee.name}"
    _click(world, log, assigner, mention_id, InboxAction.ASSIGN, label, option=assignee.user_id)
    _click(world, log, assigner, mention_id, InboxAction.TAGS, "Tags: lead", options=["lead"])
    _click(world, log, assigner, mention_id, InboxAction.NOTE, "Note")
    view = assigner.last_view_for(assigner.user_id)
    text = "Asked for a promo code: a sales lead, offer the launch discount"
    log.say("click", f"{assigner.name} writes the note “{text}” and saves it")
    before = len(world.slack.calls)
    assigner.submit_view(view["id"], {"note": {"note_text": text}})
    world.slack.wait_for(
        lambda s: any(c.method == "chat.postMessage" for c in s.calls[before:]), timeout=30
    )


def _reply_through_approval(
    world: FakeWorld, log: Transcript, *, author: SlackUser, approver: SlackUser, mention_id: str
) -> None:
    """Reply → approval card → a refused self-approval → a real approval → posted on X → who."""
    world.x.on_call = lambda call: (
        log.say("x", f"@acme posted: {call.json.get('text')}")
        if call.method == "POST" and call.path == "/2/tweets" and call.status == 201
        else None
    )
    _click(world, log, author, mention_id, MentionAction.REPLY, "Reply")
    view = author.last_view_for(author.user_id)
    quoted = next(b for b in view["blocks"] if b["type"] == "section")["text"]["text"]
    log.say("slack", f"the reply form quotes: {_readable_quote(quoted)}")
    log.say("click", f"{author.name} picks the saved reply “{SAVED_REPLY}” in the form")
    updates = len(world.slack.calls_to("views.update"))
    author.pick_in_view(view["id"], action_id=SAVED_REPLY_ACTION, option=SAVED_REPLY)
    world.slack.wait_for(lambda s: len(s.calls_to("views.update")) > updates, timeout=30)
    filled = world.slack.view(view["id"])
    text = next(
        b["element"].get("initial_value")
        for b in filled["blocks"]
        if b["type"] == "input" and b["block_id"].split("~")[0] == "text"
    )
    log.say("slack", f"the form now says: {text}")
    log.say("click", f"{author.name} sends it for approval (linted like any draft)")
    author.submit_view(view["id"], {})
    world.slack.wait_for(lambda _: _approval_card(world) is not None, timeout=30)
    world.slack.wait_for(lambda _: world.runtime.outbox.pending_count() == 0, timeout=30)
    card = _approval_card(world)
    assert card is not None  # waited for above
    channel, ts = card
    for person, label in ((author, "Approve (their own draft)"), (approver, "Approve")):
        log.say("click", f"{person.name} → {label}")
        before = len(world.slack.calls)
        person.click(channel=channel, ts=ts, action_id=DraftAction.APPROVE)
        world.slack.wait_for(
            _ephemeral_since(before),
            timeout=30,
        )
    world.x.wait_for(lambda: bool(world.x.posted_by("acme")), timeout=30)
    world.slack.wait_for(lambda _: _posted_draft(world), timeout=30)  # recorded on our side too
    world.slack.wait_for(lambda _: world.runtime.outbox.pending_count() == 0, timeout=30)
    tweet_id = world.x.posted_by("acme")[0]["id"]
    log.say("audit", f"brandbot audit who {tweet_id}")
    with transaction(world.db) as session:
        history = who_tweeted(session, tweet_id)
        assert history is not None
        for line in render_who(history).splitlines():
            log.say("", f"  {line}")


def _readable_quote(text: str) -> str:
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", text).replace("*", "").replace("\n>", " “")
    return text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&") + "”"


def _follow_up(world: FakeWorld, log: Transcript, mention_id: str) -> None:
    """The customer answers our reply: the conversation re-opens in the card's thread."""
    ours = world.x.posted_by("acme")[0]["id"]
    handle = world.mention(mention_id).author_handle
    text = "@acme thanks, but it dropped again just now"
    tweet = world.x.add_tweet(author=handle, text=text, in_reply_to=ours)
    log.say("x", f"@{handle} (replying to us): {text}")
    before = len(world.slack.calls)
    with transaction(world.db) as session:  # poll now: the demo doesn't wait poll_seconds
        session.execute(update(PollCursor).values(next_poll_at=world.clock.now()))
    world.poll()
    world.slack.wait_for(
        lambda s: any(c.method == "chat.postMessage" for c in s.calls[before:]), timeout=30
    )
    again = world.mention(tweet["id"])
    log.say(
        "route",
        f"follow-up of the answered conversation: {again.state}, its card in the original's thread",
    )


def _replied_on_x(world: FakeWorld, log: Transcript, mention_id: str) -> None:
    """Someone answers a customer on x.com directly, around brandbot: the mention is answered
    (its clock stops) and the crisis channel is alerted — nobody approved that tweet."""
    handle = world.mention(mention_id).author_handle
    text = f"@{handle} DM us and we'll sort it"
    world.x.post_natively("acme", text, in_reply_to=mention_id, source="Twitter for iPhone")
    log.say("x", f"@acme, from a phone, not through brandbot: {text}")
    before = len(world.slack.calls)
    with transaction(world.db) as session:  # poll now: the demo doesn't wait poll_seconds
        session.execute(update(PollCursor).values(next_poll_at=world.clock.now()))
    world.poll()
    alert = world.config.alert_channel
    world.slack.wait_for(
        lambda s: any(c.args.get("channel") == alert for c in s.calls[before:]), timeout=30
    )
    mention = world.mention(mention_id)
    log.say(
        "poller", f"own timeline: @{handle}'s mention is {mention.state} (replied on X directly)"
    )


def _ephemeral_since(before: int) -> Callable[[FakeSlack], bool]:
    """An ephemeral reply has been posted since the fake's call number `before`."""
    return lambda s: any(c.method == "chat.postEphemeral" for c in s.calls[before:])


def _posted_draft(world: FakeWorld) -> bool:
    with transaction(world.db) as session:
        draft = session.scalars(select(Draft).order_by(col(Draft.id).desc())).first()
        return draft is not None and draft.state == DraftState.POSTED


def _approval_card(world: FakeWorld) -> tuple[str, str] | None:
    with transaction(world.db) as session:
        draft = session.scalars(select(Draft).order_by(col(Draft.id).desc())).first()
        card = session.get(SlackMessage, draft.card_id) if draft else None
        if draft is None or card is None or card.ts is None:
            return None
        return card.channel, card.ts


def _dismiss(world: FakeWorld, log: Transcript, user: SlackUser, mention_id: str) -> None:
    _click(world, log, user, mention_id, MentionAction.DISMISS, "Dismiss")
    view = user.last_view_for(user.user_id)
    log.say("click", f"{user.name} picks reason “Spam or bot” and submits")
    before = len(world.slack.calls)
    user.submit_view(
        view["id"], {"reason": {"reason_choice": {"selected_option": {"value": "spam"}}}}
    )
    world.slack.wait_for(
        lambda s: any(c.method == "chat.update" for c in s.calls[before:]), timeout=30
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo())
