"""The only module that talks to X, through tweepy's Client.

tweepy hard-codes https://api.twitter.com, so when X_API_URL is set we give the client a
requests session that rewrites that host (OAuth 1.0a signs the final URL, so signing still holds).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import requests
import tweepy

from policies.polling import RateWindow

log = logging.getLogger(__name__)

TWEEPY_HOST = "https://api.twitter.com"
TWEET_FIELDS = [
    "created_at",
    "author_id",
    "conversation_id",
    "lang",
    "in_reply_to_user_id",
    "note_tweet",
    "entities",  # t.co links with their expanded URLs: recovery compares whole texts
    "referenced_tweets",  # which tweet a reply answers
    "source",  # the client that posted it ("Twitter Web App"), where X gives it
]
USER_FIELDS = ["username", "name"]


class XUnavailable(Exception):
    """X failed (5xx, timeout, connection): try again later."""

    def __init__(self, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class XRateLimited(XUnavailable):
    """429 from X; `retry_at` comes from x-rate-limit-reset (X sends no Retry-After)."""


class XRejected(Exception):
    """X refused the request (4xx other than 429): retrying will not help."""


class XNotFound(XRejected):
    """404: X has no such tweet (e.g. it was already deleted)."""


class XDuplicate(XRejected):
    """403: the account already has a tweet with this exact text (X has no idempotency key)."""


class XReplyNotAllowed(XRejected):
    """403: X's 2026 reply rule — the tweet's author did not mention or quote the account, so X
    refuses a programmatic reply to it (a quote post is allowed). Retrying cannot help."""


# X's wording for the reply rule (Feb 2026), matched loosely: X has no error code for it.
_REPLY_RULE_WORDS = ("not been mentioned", "otherwise engaged")


CREDENTIAL_PARTS = ("CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET")


@dataclass(frozen=True, repr=False)
class PostingCredentials:
    """OAuth 1.0a user context for posting as one account, from <PREFIX>_X_* variables."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    @classmethod
    def from_env(cls, prefix: str, env: Mapping[str, str]) -> PostingCredentials | None:
        values = [env.get(f"{prefix}_X_{part}", "") for part in CREDENTIAL_PARTS]
        return cls(*values) if all(values) else None

    def __repr__(self) -> str:
        return "PostingCredentials(***)"


@dataclass(frozen=True)
class Tweet:
    id: str
    text: str
    author_id: str
    author_handle: str
    author_name: str
    created_at: datetime
    conversation_id: str
    lang: str | None
    links: tuple[tuple[str, str], ...] = ()  # (t.co link as in `text`, expanded URL)
    replied_to: str | None = None  # the tweet this one replies to
    quoted: str | None = None  # the tweet this one quotes
    source: str | None = None  # the client it was posted with, where X says
    replied_to_user: str | None = None  # the author (user id) of the tweet it replies to

    @property
    def url(self) -> str:
        return f"https://x.com/{self.author_handle}/status/{self.id}"


@dataclass(frozen=True)
class XProfile:
    """What X says of an account (a user read: fetched once per author, then cached)."""

    id: str
    handle: str
    name: str
    followers: int | None
    verified: bool | None
    created_at: datetime | None


@dataclass(frozen=True)
class Page:
    tweets: list[Tweet]
    newest_id: str | None
    next_token: str | None  # where the following page starts; None on the last page


class _GatewaySession(requests.Session):
    """Rewrites tweepy's host to X_API_URL and puts a timeout on every call (tweepy sets none)."""

    def __init__(self, api_url: str | None, timeout: float) -> None:
        super().__init__()
        self._api_url = api_url.rstrip("/") if api_url else None
        self._timeout = timeout
        # tweepy (return_type=dict) hands back only the body; the rate-limit headers of the
        # calling thread's last answer are kept here (the poller and the handlers share a client)
        self._last = threading.local()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if self._api_url and isinstance(url, str) and url.startswith(TWEEPY_HOST):
            url = self._api_url + url[len(TWEEPY_HOST) :]
        kwargs.setdefault("timeout", self._timeout)
        self._last.window = None
        response = super().request(method, url, *args, **kwargs)
        self._last.window = rate_window(response.headers)
        return response

    def last_window(self) -> RateWindow | None:
        """The rate-limit window X's last answer to this thread reported, if it said."""
        return cast(RateWindow | None, getattr(self._last, "window", None))


def rate_window(headers: Mapping[str, str]) -> RateWindow | None:
    """x-rate-limit-remaining and x-rate-limit-reset (epoch seconds), where X sent both."""
    remaining, reset = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-reset")
    try:
        return RateWindow(int(remaining or ""), datetime.fromtimestamp(int(reset or ""), UTC))
    except (TypeError, ValueError, OverflowError, OSError):
        return None


# Called after each read X answered: (endpoint, resources returned). X bills reads per resource
# and UTC day; the composition root counts them in the database (bot/x/reads.py).
ReadRecorder = Callable[[str, int], None]


class XGateway:
    """Reads with the app's bearer token (an account's own timeline with its own OAuth 1.0a
    context where we have it: X prices those as "owned reads"); posting uses per-account OAuth
    1.0a. Every read X answers is reported to `on_read` (posts are not reads)."""

    def __init__(
        self,
        *,
        bearer_token: str,
        api_url: str | None = None,
        timeout: float = 10,
        credentials: Mapping[str, PostingCredentials] | None = None,
        on_read: ReadRecorder | None = None,
    ):
        self._on_read = on_read
        self._client = tweepy.Client(bearer_token=bearer_token, return_type=dict)
        self._client.session = _GatewaySession(api_url, timeout)
        self._user_ids: dict[str, str] = {}
        self._windows: dict[str, RateWindow] = {}  # by read endpoint: what X last said
        self._posters: dict[str, tweepy.Client] = {}
        for handle, creds in (credentials or {}).items():
            poster = tweepy.Client(
                consumer_key=creds.consumer_key,
                consumer_secret=creds.consumer_secret,
                access_token=creds.access_token,
                access_token_secret=creds.access_token_secret,
                return_type=dict,
            )
            poster.session = _GatewaySession(api_url, timeout)
            self._posters[handle.lower()] = poster

    def record_reads_with(self, recorder: ReadRecorder) -> None:
        """Report every read X answers to `recorder` from now on (the composition root's)."""
        self._on_read = recorder

    def rate_window(self, endpoint: str) -> RateWindow | None:
        """What X last said of the rate-limit window of a read endpoint (mentions, search,
        timeline): requests left and when it resets; None before the first answer."""
        return self._windows.get(endpoint)

    def can_post_as(self, handle: str) -> bool:
        return handle.lower() in self._posters

    def post(
        self,
        handle: str,
        text: str,
        *,
        in_reply_to: str | None = None,
        quote_of: str | None = None,
    ) -> str:
        """Post as the account; return the new tweet's id. Raises XDuplicate, XReplyNotAllowed,
        XRateLimited, XUnavailable (the outcome is unknown: X may have the tweet) or XRejected."""
        poster = self._posters.get(handle.lower())
        if poster is None:
            raise XRejected(f"no posting credentials for @{handle}")
        try:
            body = self._call(
                poster.create_tweet,
                text=text,
                in_reply_to_tweet_id=in_reply_to,
                quote_tweet_id=quote_of,
                user_auth=True,
            )
        except XRejected as exc:
            cause = exc.__cause__
            messages = getattr(cause, "api_messages", []) or []
            if isinstance(cause, tweepy.Forbidden) and any("duplicate" in m for m in messages):
                raise XDuplicate(
                    "X already has a tweet with this text from this account"
                ) from cause
            if isinstance(cause, tweepy.Forbidden) and any(
                w in m for m in messages for w in _REPLY_RULE_WORDS
            ):
                raise XReplyNotAllowed(
                    f"X refuses replies to tweets that don't mention @{handle}"
                ) from cause
            raise
        return str(body["data"]["id"])

    def get_tweet(self, tweet_id: str) -> Tweet | None:
        """One tweet by id (GET /2/tweets/:id), or None when X has no such tweet (deleted,
        never existed, or not visible to us)."""
        try:
            body = self._call(
                self._client.get_tweet,
                id=tweet_id,
                tweet_fields=TWEET_FIELDS,
                expansions=["author_id"],
                user_fields=USER_FIELDS,
            )
        except XNotFound:
            self._read("tweet", 0)
            return None
        self._read("tweet", 1 if "data" in body else 0)
        if "data" not in body:  # X answers a missing tweet with 200 and an `errors` list
            return None
        users = {u["id"]: u for u in body.get("includes", {}).get("users", [])}
        return _tweet(body["data"], users)

    def recent_posts(self, handle: str, *, since: datetime) -> list[Tweet]:
        """The account's own tweets since `since`, newest first (to find a post of unknown outcome)."""
        tweets: list[Tweet] = []
        for page in self.timeline(handle, since_id=None, start_time=since):
            tweets.extend(page.tweets)
        return tweets

    def timeline(
        self,
        handle: str,
        *,
        since_id: str | None,
        start_time: datetime | None,
        page_token: str | None = None,
    ) -> Iterator[Page]:
        """The account's own tweets newer than since_id (GET /2/users/:id/tweets), page by page,
        newest first. Asked as the account itself when we hold its keys (an owned read)."""
        poster = self._posters.get(handle.lower())
        client = poster or self._client
        yield from self._pages(
            client.get_users_tweets,
            "pagination_token",
            page_token,
            endpoint="timeline",
            id=self.user_id(handle),
            since_id=since_id,
            start_time=None if since_id else start_time,
            max_results=100,
            **({"user_auth": True} if poster is not None else {}),
        )

    def delete(self, handle: str, tweet_id: str) -> None:
        poster = self._posters.get(handle.lower())
        if poster is None:
            raise XRejected(f"no posting credentials for @{handle}")
        self._call(poster.delete_tweet, id=tweet_id, user_auth=True)

    def user_id(self, handle: str) -> str:
        key = handle.lower()
        if key not in self._user_ids:
            body = self._call(self._client.get_user, username=handle)
            self._read("user", 1 if "data" in body else 0)
            if "data" not in body:
                raise XRejected(f"X account @{handle} not found")
            self._user_ids[key] = body["data"]["id"]
        return self._user_ids[key]

    def profile(self, user_id: str) -> XProfile:
        """The account's public profile: followers, verified, created. Raises XNotFound, XRejected,
        XUnavailable."""
        body = self._call(
            self._client.get_user,
            id=user_id,
            user_fields=["public_metrics", "verified", "created_at"],
        )
        self._read("user", 1 if "data" in body else 0)
        if "data" not in body:
            raise XNotFound(f"X has no account {user_id}")
        user = body["data"]
        created = user.get("created_at")
        return XProfile(
            id=str(user["id"]),
            handle=str(user.get("username", "")),
            name=str(user.get("name", "")),
            followers=(user.get("public_metrics") or {}).get("followers_count"),
            verified=user.get("verified"),
            created_at=datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone(UTC)
            if created
            else None,
        )

    def mentions(
        self,
        handle: str,
        *,
        since_id: str | None,
        start_time: datetime | None,
        page_token: str | None = None,
    ) -> Iterator[Page]:
        """Every mention newer than since_id, page by page (newest first within X's ~800 cap),
        from `page_token` when resuming an interrupted poll."""
        yield from self._pages(
            self._client.get_users_mentions,
            "pagination_token",
            page_token,
            endpoint="mentions",
            id=self.user_id(handle),
            since_id=since_id,
            start_time=None if since_id else start_time,
            max_results=100,
        )

    def search(
        self,
        query: str,
        *,
        since_id: str | None,
        start_time: datetime | None,
        page_token: str | None = None,
    ) -> Iterator[Page]:
        yield from self._pages(
            self._client.search_recent_tweets,
            "next_token",
            page_token,
            endpoint="search",
            query=query,
            since_id=since_id,
            start_time=None if since_id else start_time,
            max_results=100,
        )

    def _pages(
        self, method: Any, token_param: str, token: str | None, *, endpoint: str, **params: Any
    ) -> Iterator[Page]:
        params = {k: v for k, v in params.items() if v is not None}
        session = cast(_GatewaySession, method.__self__.session)
        while True:
            try:
                body = self._call(
                    method,
                    **params,
                    **({token_param: token} if token else {}),
                    tweet_fields=TWEET_FIELDS,
                    expansions=["author_id"],
                    user_fields=USER_FIELDS,
                )
            finally:
                if (window := session.last_window()) is not None:
                    self._windows[endpoint] = window
            users = {u["id"]: u for u in body.get("includes", {}).get("users", [])}
            tweets = [_tweet(t, users) for t in body.get("data", [])]
            self._read(endpoint, len(tweets))
            meta = body.get("meta", {})
            token = meta.get("next_token")
            yield Page(tweets=tweets, newest_id=meta.get("newest_id"), next_token=token)
            if not token:
                return

    def _read(self, endpoint: str, resources: int) -> None:
        """Count one read X answered. Counting must never fail a read: a lost count is logged."""
        if self._on_read is None:
            return
        try:
            self._on_read(endpoint, resources)
        except Exception:
            log.exception("could not count a read of X (%s)", endpoint)

    def _call(self, method: Any, **params: Any) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], method(**params))
        except tweepy.TooManyRequests as exc:
            reset = exc.response.headers.get("x-rate-limit-reset")
            retry_at = datetime.fromtimestamp(int(reset), UTC) if reset else None
            raise XRateLimited("X rate limit reached", retry_at=retry_at) from exc
        except tweepy.TwitterServerError as exc:
            raise XUnavailable(f"X server error {exc.response.status_code}") from exc
        except tweepy.NotFound as exc:
            raise XNotFound(f"X has no such tweet: {exc}") from exc
        except tweepy.HTTPException as exc:
            raise XRejected(f"X refused the request: {exc}") from exc
        except (requests.RequestException, tweepy.TweepyException) as exc:
            raise XUnavailable(f"X unreachable: {type(exc).__name__}") from exc


def _tweet(raw: dict[str, Any], users: dict[str, dict[str, Any]]) -> Tweet:
    author = users.get(raw.get("author_id", ""), {})
    created = raw.get("created_at")
    return Tweet(
        id=raw["id"],
        # X HTML-escapes &, < and > in text; long posts carry their full text in note_tweet.
        text=html.unescape((raw.get("note_tweet") or {}).get("text") or raw["text"]),
        author_id=raw.get("author_id", ""),
        author_handle=author.get("username", raw.get("author_id", "unknown")),
        author_name=author.get("name", ""),
        created_at=(
            datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone(UTC)
            if created
            else datetime.now(UTC)
        ),
        conversation_id=raw.get("conversation_id") or raw["id"],
        lang=raw.get("lang"),
        links=tuple(
            (str(u["url"]), str(u.get("expanded_url") or u["url"]))
            for u in (raw.get("entities") or {}).get("urls") or []
            if isinstance(u, dict) and u.get("url")
        ),
        replied_to=_referenced(raw, "replied_to"),
        quoted=_referenced(raw, "quoted"),
        source=str(raw["source"]) if raw.get("source") else None,
        replied_to_user=str(raw["in_reply_to_user_id"]) if raw.get("in_reply_to_user_id") else None,
    )


def _referenced(raw: dict[str, Any], kind: str) -> str | None:
    """The id of the tweet this one references as `kind` (replied_to, quoted), if any."""
    return next(
        (
            str(r["id"])
            for r in raw.get("referenced_tweets") or []
            if isinstance(r, dict) and r.get("type") == kind and r.get("id")
        ),
        None,
    )
