"""Is this tweet on X the post of this draft? The one way the publisher's recovery, Mark as
posted and the own-timeline watch ask it (policies.tweet_match decides)."""

from __future__ import annotations

from bot.core.models import Draft
from bot.x.gateway import Tweet
from policies.tweet_match import Match, same_post


def post_match(draft: Draft, tweet: Tweet) -> Match:
    """The draft's text and reply/quote target against the tweet's (t.co links expanded)."""
    return same_post(
        draft_text=draft.text,
        draft_reply_to=draft.in_reply_to,
        tweet_text=tweet.text,
        tweet_links=tweet.links,
        tweet_reply_to=tweet.replied_to,
        draft_quote_of=draft.quote_of,
        tweet_quoted=tweet.quoted,
    )
