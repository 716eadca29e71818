"""A local fake of the slice of the X API v2 that brandbot reaches through ``tweepy.Client``.

It serves the paths tweepy calls (tweepy hard-codes ``https://api.twitter.com``; the X gateway
rewrites that host to ``X_API_URL``) with X's JSON shapes and error bodies, so tweepy raises the
same exceptions it would against X. Tests can inject rate limits, 5xx errors, lost responses and
slow posts, and can have links rewritten to t.co as X does. stdlib only, because ``brandbot demo``
ships it.
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import hashlib
import hmac
import json
import random
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit

from bot.fakes.loopback import LoopbackServer

JSON = dict[str, Any]
TWITTER_EPOCH_MS = 1288834974657
WINDOW_S = 900  # X counts rate limits per 15-minute window
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG = "Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text."
REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
QUOTE_GONE = "You attempted to quote a Tweet that is deleted or not visible to you."
# X's reply rule for self-serve access (23 Feb 2026): a programmatic reply only to a tweet whose
# author mentioned or quoted the replying account.
REPLY_NOT_ALLOWED = "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged by the author of the post you are replying to."
APP_ONLY = "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


TWEET_FIELDS = _names(
    "article attachments author_id card_uri community_id context_annotations conversation_id "
    "created_at display_text_range edit_controls edit_history_tweet_ids entities geo id "
    "in_reply_to_user_id lang media_metadata non_public_metrics note_tweet organic_metrics "
    "possibly_sensitive promoted_metrics public_metrics referenced_tweets reply_settings scopes "
    "source text withheld"
)
USER_FIELDS = _names(
    "affiliation connection_status created_at description entities id location "
    "most_recent_tweet_id name pinned_tweet_id profile_banner_url profile_image_url protected "
    "public_metrics receives_your_dm subscription_type url username verified verified_type "
    "withheld"
)
EXPANSIONS = _names(
    "attachments.media_keys attachments.poll_ids author_id edit_history_tweet_ids "
    "entities.mentions.username geo.place_id in_reply_to_user_id referenced_tweets.id "
    "referenced_tweets.id.author_id pinned_tweet_id most_recent_tweet_id"
)
_LOOKUP = frozenset({"expansions", "tweet.fields", "user.fields"})
_PAGED = _LOOKUP | {"end_time", "max_results", "since_id", "start_time", "until_id"}
_PAGED |= {"media.fields", "place.fields", "poll.fields"}
_MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})")
_HASHTAG_RE = re.compile(r"(?<![\w#&])#(\w*[^\W\d]\w*)")
_URL_RE = re.compile(r"https?://\S+[^\s.,!?:;)\]'\"]")
# With shorten_links, as twitter-text does: also bare domains ("acme.com/x") with a known TLD.
_TLDS = "com net org edu gov info biz io co dev app ai me ly gg tv xyz shop blog news online site"
_LINK_RE = re.compile(
    r"(?<![\w@./-])(?:https?://\S+[^\s.,!?:;)\]'\"]"
    r"|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:" + "|".join(_TLDS.split()) + r"|[a-z]{2})"
    r"(?![\w-])(?::\d+)?(?:/(?:\S*[^\s.,!?:;)\]'\"])?)?)",
    re.IGNORECASE,
)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_WORD_RE = re.compile(r"\w+")
_QUERY_RE = re.compile(
    r'\s*(?:(?P<neg>-)(?=\S)|(?P<lp>\()|(?P<rp>\))|(?P<q>"[^"]*")|(?P<w>[^\s()"]+))'
)


@dataclass(frozen=True)
class XCall:
    """One request the fake answered; ``status`` 0 means it hung up without answering."""

    method: str
    path: str
    params: dict[str, str]
    json: Any
    status: int
    at: float
    user: str | None  # handle of the OAuth 1.0a account; None for bearer or no auth


@dataclass(frozen=True)
class PostRecord:
    """One ``POST /2/tweets`` as X saw it (``time.time()`` values), answered or not.

    ``created`` is when the tweet was stored (None: refused); ``answered`` when the answer was
    sent (None: still working, or hung up); ``status`` the HTTP status (0: hung up, None: still
    working). ``user`` is the posting account's handle (None if authentication failed)."""

    arrived: float
    created: float | None
    answered: float | None
    tweet_id: str | None
    text: str
    user: str | None
    status: int | None = None

    @property
    def done(self) -> bool:
        """X has finished with it: answered, refused or hung up."""
        return self.status is not None


Delay = Callable[[], float] | float


@dataclass
class _Tweet:
    id: int
    data: JSON  # the full X v2 tweet object (its text as stored: links rewritten to t.co)
    author: str  # lower-case handle
    created: datetime
    words: frozenset[str]
    line: str  # " word word word " for phrase matching
    mentions: frozenset[str]
    hashtags: frozenset[str]
    is_retweet: bool
    via_api: bool
    original: str  # the text as its author sent it (what the duplicate check compares)


@dataclass
class _Fault:
    prefix: str | None
    status: int
    count: int  # -1: forever (random faults)
    reset_in: float = 60.0
    rate: float = 1.0
    rng: random.Random | None = None
    statuses: tuple[int, ...] = ()
    skip: int = 0  # let this many matching requests through first


@dataclass(frozen=True)
class _Req:
    args: tuple[str, ...]
    params: dict[str, str]
    body: Any
    user: str | None  # user id for OAuth 1.0a, None for the app bearer token
    post: int | None = None  # index into FakeX._posts for POST /2/tweets


class _ApiError(Exception):
    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status, self.body, self.headers = status, body, headers or {}


class _Dropped(Exception):
    """Hang up without answering."""


def _problem(status: int, title: str, detail: str, kind: str = "about:blank") -> _ApiError:
    return _ApiError(status, {"title": title, "detail": detail, "type": kind, "status": status})


def _invalid(param: str, value: str, message: str) -> _ApiError:
    error = {"parameters": {param: [value]}, "message": message}
    body = {"errors": [error], "title": "Invalid Request", "type": "about:blank"}
    body["detail"] = "One or more parameters to your request was invalid."
    body["type"] = "https://api.twitter.com/2/problems/invalid-request"
    return _ApiError(400, body)


def _not_found(param: str, value: str) -> JSON:
    """X answers a lookup of a missing user with 200 and an ``errors`` list."""
    kind = "https://api.twitter.com/2/problems/resource-not-found"
    detail = f"Could not find user with {param}: [{value}]."
    error = {"value": value, "detail": detail, "title": "Not Found Error", "type": kind}
    return {"errors": [{**error, "resource_type": "user", "parameter": param}]}


def weighted_length(text: str, *, bare_domains: bool = False) -> int:
    """Approximate twitter-text v3 length: URLs 23, light code points 1, others 2."""
    links = _LINK_RE if bare_domains else _URL_RE
    total = 23 * len(links.findall(text))
    for ch in links.sub("", text):
        cp = ord(ch)
        if 0xFE00 <= cp <= 0xFE0F:  # variation selectors ride along with their emoji
            continue
        light = cp <= 0x10FF or 0x2000 <= cp <= 0x200D or 0x2010 <= cp <= 0x201F
        total += 1 if light or 0x2032 <= cp <= 0x2037 else 2
    return total


class _QueryError(ValueError):
    pass


Pred = Callable[[_Tweet], bool]


class _Query:
    """Parser for the search-query subset brandbot builds. AND (space) binds tighter than OR."""

    def __init__(self, query: str) -> None:
        self.toks: list[tuple[str, str]] = []
        pos, text = 0, query.strip()
        while pos < len(text):
            m = _QUERY_RE.match(text, pos)
            if m is None or m.lastgroup is None:
                raise _QueryError(f"unexpected character at position {pos}")
            self.toks.append((m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        self.i, self.positive = 0, False
        self.pred = self._or(False)
        if self.i < len(self.toks):
            raise _QueryError(f"unexpected '{self.toks[self.i][1]}'")
        if not self.positive:
            raise _QueryError("a query needs at least one non-negated term")

    def _peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _or(self, negated: bool) -> Pred:
        parts = [self._and(negated)]
        while self._peek() == ("w", "OR"):
            self.i += 1
            parts.append(self._and(negated))
        return parts[0] if len(parts) == 1 else lambda t: any(p(t) for p in parts)

    def _and(self, negated: bool) -> Pred:
        parts: list[Pred] = []
        while (tok := self._peek()) is not None and tok[0] != "rp" and tok != ("w", "OR"):
            parts.append(self._unary(negated))
        if not parts:
            raise _QueryError(f"expected a term before {tok[1] if tok else 'the end'}")
        return parts[0] if len(parts) == 1 else lambda t: all(p(t) for p in parts)

    def _unary(self, negated: bool) -> Pred:
        kind, value = self.toks[self.i]
        self.i += 1
        if kind == "neg":
            inner = self._unary(not negated)
            return lambda t: not inner(t)
        if kind == "lp":
            inner = self._or(negated)
            if self._peek() != ("rp", ")"):
                raise _QueryError("missing ')'")
            self.i += 1
            return inner
        if kind == "rp":
            raise _QueryError("unexpected ')'")
        self.positive = self.positive or not negated
        return _phrase(value[1:-1]) if kind == "q" else _term(value)


def _phrase(text: str) -> Pred:
    """Tokenized, case-insensitive match of a keyword or a quoted phrase."""
    words = _WORD_RE.findall(text.lower())
    if not words:
        raise _QueryError(f"empty term '{text}'")
    needle = f" {' '.join(words)} "
    return (lambda t: words[0] in t.words) if len(words) == 1 else (lambda t: needle in t.line)


def _term(term: str) -> Pred:
    low = term.lower()
    op, colon, val = low.partition(":")
    if low.startswith("#") and len(low) > 1:
        return lambda t: low[1:] in t.hashtags
    if low.startswith("@") and len(low) > 1:
        return lambda t: low[1:] in t.mentions
    if not colon or op in ("http", "https"):
        return _phrase(term)
    if op == "from" and val:
        return lambda t: t.author == val.lstrip("@")
    if op == "lang" and val:
        return lambda t: t.data["lang"] == val
    if op == "conversation_id" and val:
        return lambda t: t.data["conversation_id"] == val
    if low == "is:retweet":
        return lambda t: t.is_retweet
    if low == "is:reply":
        return lambda t: "in_reply_to_user_id" in t.data
    raise _QueryError(f"Reference to invalid operator '{term}'")


_MENTIONS_Q = _PAGED | {"pagination_token"}
_TWEETS_Q = _PAGED | {"pagination_token", "exclude"}
_SEARCH_Q = _PAGED | {"query", "next_token", "pagination_token", "sort_order"}
_TWEET_Q = _LOOKUP | {"media.fields", "place.fields", "poll.fields"}
_NONE: frozenset[str] = frozenset()
_ROUTES: tuple[tuple[str, str, str, bool, frozenset[str], tuple[int, int]], ...] = (
    # method, path regex, handler, needs user context, query params, limits/15 min (app, user)
    ("GET", r"/2/users/me", "_get_me", True, _LOOKUP, (0, 75)),
    ("GET", r"/2/users/by/username/([^/]+)", "_get_user", False, _LOOKUP, (300, 900)),
    ("GET", r"/2/users/(\d+)", "_get_user_by_id", False, _LOOKUP, (300, 900)),
    ("GET", r"/2/users/(\w+)/mentions", "_get_mentions", False, _MENTIONS_Q, (450, 300)),
    ("GET", r"/2/users/(\w+)/tweets", "_get_user_tweets", False, _TWEETS_Q, (1500, 900)),
    ("GET", r"/2/tweets/search/recent", "_search", False, _SEARCH_Q, (450, 300)),
    ("GET", r"/2/tweets/([^/]+)", "_get_tweet", False, _TWEET_Q, (450, 900)),
    ("POST", r"/2/tweets", "_post_tweet", True, _NONE, (0, 100)),
    ("DELETE", r"/2/tweets/(\w+)", "_delete_tweet", True, _NONE, (0, 50)),
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.twitter.com
    disable_nagle_algorithm = True  # else headers + body in two writes cost a 40 ms delayed ACK
    fake: FakeX

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, payload, headers = self.fake._handle(self.command, self.path, self.headers, body)
        if payload is None:  # a crash or timeout after X accepted the request
            self.close_connection = True
            return
        raw = json.dumps(payload).encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (timeout)
            self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = _serve


class FakeX:
    """The fake X API server, its data, failure injection and a record of every call."""

    def __init__(
        self,
        *,
        bearer_token: str = "fake-bearer",
        on_call: Callable[[XCall], None] | None = None,
        shorten_links: bool = False,
        reply_rule: bool = True,
        app_name: str = "brandbot",
        now: Callable[[], float] = time.time,
    ) -> None:
        self.bearer_token = bearer_token
        # Rate-limit windows and their resets are dated by this (epoch seconds): the app's clock,
        # so an app on a test's clock reads resets in the same time it lives in, as it does on X.
        self._now = now
        self.app_name = app_name  # the `source` X shows on tweets posted through the API
        self.on_call = on_call
        self.shorten_links = shorten_links  # store and return every link as https://t.co/…
        # X's 2026 rule: refuse a reply to a tweet that did not mention or quote the account.
        self.reply_rule = reply_rule
        self.after_post: Callable[[JSON], object] | None = None  # its result is ignored
        self.url = ""
        self._cond = threading.Condition(threading.RLock())
        self._calls: list[XCall] = []
        self._users: dict[str, JSON] = {}
        self._by_handle: dict[str, str] = {}  # lower-case handle -> user id
        self._accounts: dict[tuple[str, str], tuple[str, str | None, str | None]] = {}
        self._tweets: dict[int, _Tweet] = {}
        self._order: list[int] = []  # every tweet id, ascending; same for the two indexes below
        self._authored: dict[str, list[int]] = {}
        self._mentions: dict[str, list[int]] = {}
        self._by_text: dict[tuple[str, str], int] = {}  # (author id, text) -> tweet id
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._faults: list[_Fault] = []
        self._reported: dict[str, tuple[int, float]] = {}  # path prefix → (remaining, reset at)
        self._drops = 0
        self._posts: list[PostRecord] = []
        self._delay_create: Callable[[], float] = lambda: 0.0
        self._delay_answer: Callable[[], float] = lambda: 0.0
        self._last_id = 0
        self._loopback: LoopbackServer | None = None

    def start(self) -> str:
        if self._loopback is None:
            handler = type("_BoundHandler", (_Handler,), {"fake": self})
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            self._loopback = LoopbackServer(server, name="fake-x")
            self.url = f"http://127.0.0.1:{self._loopback.port}"
        return self.url

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop()
            self._loopback = None

    def __enter__(self) -> FakeX:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- data --------------------------------------------------------------------------------
    def add_user(
        self,
        handle: str,
        *,
        name: str | None = None,
        user_id: str | None = None,
        followers: int = 0,
        verified: bool = False,
    ) -> str:
        handle = handle.lstrip("@")
        with self._cond:
            known = self._by_handle.get(handle.lower())
            if known is not None:
                if user_id not in (None, known):
                    raise ValueError(f"@{handle} already has id {known}")
                return known
            user_id = user_id or str(100_000 + len(self._users))
            if not user_id.isdigit() or user_id in self._users:
                raise ValueError(f"bad or taken user id {user_id!r}")
            self._users[user_id] = {
                "id": user_id,
                "name": name or handle,
                "username": handle,
                "protected": False,
                "created_at": "2020-01-01T00:00:00.000Z",
                "description": "",
                "verified": verified,
                "public_metrics": {
                    "followers_count": followers,
                    "following_count": 0,
                    "tweet_count": 0,
                    "listed_count": 0,
                    "like_count": 0,
                },
            }
            self._by_handle[handle.lower()] = user_id
            self._cond.notify_all()
            return user_id

    def register_account(
        self,
        handle: str,
        *,
        consumer_key: str,
        access_token: str,
        consumer_secret: str | None = None,
        access_token_secret: str | None = None,
    ) -> str:
        """Bind OAuth 1.0a credentials to @handle; given the secrets, signatures are checked."""
        user_id = self.add_user(handle)
        with self._cond:
            secrets = (consumer_secret, access_token_secret)
            self._accounts[(consumer_key, access_token)] = (user_id, *secrets)
        return user_id

    def add_tweet(
        self,
        *,
        author: str,
        text: str,
        created_at: datetime | None = None,
        conversation_id: str | None = None,
        in_reply_to: str | None = None,
        lang: str = "en",
        tweet_id: str | None = None,
        is_retweet: bool = False,
        quote_of: str | None = None,
        source: str = "Twitter for iPhone",
    ) -> JSON:
        """Seed a tweet as X would store it; ids increase in insertion order (compare as ints)."""
        with self._cond:
            return dict(
                self._insert(
                    author,
                    text,
                    created_at,
                    conversation_id,
                    in_reply_to,
                    lang,
                    tweet_id,
                    is_retweet,
                    quote_of=quote_of,
                    source=source,
                ).data
            )

    def post_natively(
        self,
        handle: str,
        text: str,
        *,
        in_reply_to: str | None = None,
        source: str = "Twitter Web App",
        created_at: datetime | None = None,
    ) -> JSON:
        """@handle tweets outside brandbot (on x.com, from a phone, a scheduler): the tweet is on
        the account's timeline, and a reply's parent gets its reply, as if it came through the
        API — but not through brandbot. X's duplicate-content rule holds here too."""
        with self._cond:
            user = self._by_handle.get(handle.lstrip("@").lower())
            if user is not None and (user, text) in self._by_text:
                raise ValueError(f"@{handle} already has a tweet with this text")
            return dict(
                self._insert(
                    handle,
                    text,
                    created_at,
                    None,
                    in_reply_to,
                    "en",
                    None,
                    False,
                    source=source,
                ).data
            )

    def add_tweets(
        self,
        n: int,
        *,
        author: str | Callable[[int], str] = "fan{i}",
        text: str | Callable[[int], str] = "tweet number {i}",
        start: datetime | None = None,
        step: timedelta = timedelta(seconds=1),
        lang: str = "en",
    ) -> list[JSON]:
        """Bulk insert for benchmarks; string templates are formatted with ``i`` (0..n-1)."""
        begin = start or datetime.now(UTC) - step * n
        out: list[JSON] = []
        with self._cond:
            for i in range(n):
                who = author(i) if callable(author) else author.format(i=i)
                body = text(i) if callable(text) else text.format(i=i)
                tweet = self._insert(who, body, begin + step * i, None, None, lang, None, False)
                out.append(dict(tweet.data))
        return out

    def _insert(
        self,
        author: str,
        text: str,
        created_at: datetime | None,
        conversation_id: str | None,
        in_reply_to: str | None,
        lang: str,
        tweet_id: str | None,
        is_retweet: bool,
        *,
        quote_of: str | None = None,
        source: str | None = None,
    ) -> _Tweet:
        author_id = self._by_handle.get(author.lstrip("@").lower()) or self.add_user(author)
        snowflake = (int(time.time() * 1000) - TWITTER_EPOCH_MS) << 22
        tid = int(tweet_id) if tweet_id else max(self._last_id + 1, snowflake)
        parent = self._tweets.get(int(in_reply_to)) if in_reply_to else None
        if tid in self._tweets or (in_reply_to and parent is None):
            raise ValueError(f"tweet {tid} exists or replies to an unknown tweet")
        if quote_of and int(quote_of) not in self._tweets:
            raise ValueError(f"tweet {tid} quotes an unknown tweet")
        self._last_id = max(self._last_id, tid)
        created = created_at or datetime.now(UTC)
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ"
        original = text
        urls: list[JSON] = []
        if self.shorten_links:
            text, urls = _shorten(text)
        data: JSON = {"id": str(tid), "text": text, "edit_history_tweet_ids": [str(tid)]}
        data.update(
            author_id=author_id, lang=lang, created_at=stamp % (created.microsecond // 1000)
        )
        data["conversation_id"] = conversation_id or (
            parent.data["conversation_id"] if parent else str(tid)
        )
        metrics = ("retweet_count", "reply_count", "like_count", "quote_count")
        data["public_metrics"] = dict.fromkeys(metrics, 0)
        if source:
            data["source"] = source
        entities: dict[str, list[JSON]] = {}
        for m in _MENTION_RE.finditer(text):
            mention = {"start": m.start(), "end": m.end(), "username": m.group(1)}
            uid = self._by_handle.get(m[1].lower()) or self.add_user(m[1])
            entities.setdefault("mentions", []).append({**mention, "id": uid})
        for m in _HASHTAG_RE.finditer(text):
            hashtag = {"start": m.start(), "end": m.end(), "tag": m.group(1)}
            entities.setdefault("hashtags", []).append(hashtag)
        for m in () if self.shorten_links else _URL_RE.finditer(text):
            url = {"start": m.start(), "end": m.end(), "url": m[0], "expanded_url": m[0]}
            entities.setdefault("urls", []).append({**url, "display_url": m[0].split("//")[1]})
        if urls:
            entities["urls"] = urls
        if entities:
            data["entities"] = entities
        refs: list[JSON] = []
        if parent is not None:
            data["in_reply_to_user_id"] = parent.data["author_id"]
            refs.append({"type": "replied_to", "id": parent.data["id"]})
            parent.data["public_metrics"]["reply_count"] += 1
        if quote_of:
            refs.append({"type": "quoted", "id": str(int(quote_of))})
            self._tweets[int(quote_of)].data["public_metrics"]["quote_count"] += 1
        retweeted = re.match(r"RT @(\w+): (.*)", original, re.S) if is_retweet else None
        if retweeted:  # point at the original when we have it
            original_author = self._by_handle.get(retweeted[1].lower(), "")
            original_id = self._by_text.get((original_author, retweeted[2]))
            refs += [{"type": "retweeted", "id": str(original_id)}] if original_id else []
        if refs:
            data["referenced_tweets"] = refs
        words = _WORD_RE.findall(original.lower())  # search matches links by what they expand to
        mentioned = frozenset(e["username"].lower() for e in entities.get("mentions", []))
        tags = frozenset(e["tag"].lower() for e in entities.get("hashtags", []))
        handle = self._users[author_id]["username"].lower()
        line = f" {' '.join(words)} "
        tweet = _Tweet(
            tid,
            data,
            handle,
            created,
            frozenset(words),
            line,
            mentioned,
            tags,
            is_retweet,
            False,
            original,
        )
        self._tweets[tid] = tweet
        for index in (self._order, self._authored.setdefault(author_id, [])):
            _insort(index, tid)
        for mentioned_id in dict.fromkeys(e["id"] for e in entities.get("mentions", [])):
            _insort(self._mentions.setdefault(mentioned_id, []), tid)
        if not is_retweet:
            self._by_text[(author_id, original)] = tid
        self._cond.notify_all()
        return tweet

    # -- inspection --------------------------------------------------------------------------
    @property
    def calls(self) -> list[XCall]:
        with self._cond:
            return list(self._calls)

    def calls_to(self, path_prefix: str) -> list[XCall]:
        """Calls whose path starts with the prefix; ``"POST /2/tweets"`` also checks the method."""
        return [c for c in self.calls if _matches(path_prefix, c.method, c.path)]

    @property
    def tweets(self) -> dict[str, JSON]:
        """Every live (not deleted) tweet by id, oldest first."""
        with self._cond:
            return {str(tid): dict(self._tweets[tid].data) for tid in self._order}

    def posted_by(self, handle: str) -> list[JSON]:
        """Live tweets @handle created through ``POST /2/tweets``, oldest first."""
        with self._cond:
            ids = self._authored.get(self._by_handle.get(handle.lstrip("@").lower(), ""), [])
            return [dict(self._tweets[i].data) for i in ids if self._tweets[i].via_api]

    def original_text(self, tweet_id: str) -> str:
        """The text of a live tweet as its author sent it (before links became t.co links)."""
        with self._cond:
            return self._tweets[int(tweet_id)].original

    @property
    def post_records(self) -> list[PostRecord]:
        """Every ``POST /2/tweets`` that arrived, in order of arrival (refused and lost ones too)."""
        with self._cond:
            return list(self._posts)

    def mentions_of(self, handle: str) -> list[JSON]:
        """Every live tweet mentioning @handle (no 800 cap), newest first."""
        with self._cond:
            ids = self._mentions.get(self._by_handle.get(handle.lstrip("@").lower(), ""), [])
            return [dict(self._tweets[i].data) for i in reversed(ids)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        """Block until ``predicate()`` holds; re-checked after every call and data change."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise TimeoutError(f"FakeX.wait_for: condition still false after {timeout}s")

    # -- failure injection (path_prefix "/2/users/" or "POST /2/tweets"; None = any) ---------
    def rate_limit(
        self, path_prefix: str | None = None, *, count: int = 1, reset_in: float = 60
    ) -> None:
        with self._cond:
            self._faults.append(_Fault(path_prefix, 429, count, reset_in))

    def report_window(self, path_prefix: str, *, remaining: int, reset_in: float) -> None:
        """Answer requests under `path_prefix` with this rate-limit window in their headers
        (x-rate-limit-remaining, x-rate-limit-reset), as X does near the end of an allowance."""
        with self._cond:
            self._reported[path_prefix] = (remaining, self._now() + reset_in)

    def fail(
        self, path_prefix: str | None = None, *, status: int = 503, count: int = 1, skip: int = 0
    ) -> None:
        """Fail the next `count` matching requests, after letting `skip` of them through."""
        with self._cond:
            self._faults.append(_Fault(path_prefix, status, count, skip=skip))

    def fail_randomly(
        self,
        rate: float,
        *,
        statuses: Iterable[int] = (429, 500, 503),
        seed: int = 0,
        path_prefix: str | None = None,
    ) -> None:
        fault = _Fault(path_prefix, 0, -1, 60, rate, random.Random(seed), tuple(statuses))
        with self._cond:
            self._faults.append(fault)

    def post_delays(self, before_create: Delay = 0, before_answer: Delay = 0) -> None:
        """Make ``POST /2/tweets`` slow: wait ``before_create`` seconds after the request arrives
        before creating the tweet, then ``before_answer`` seconds before answering. Either may be
        a function, called (under the fake's lock, in order of arrival) once per post. Waiting
        holds no lock: other requests are served meanwhile."""
        with self._cond:
            self._delay_create = _delay(before_create)
            self._delay_answer = _delay(before_answer)

    def drop_response_after_post(self, count: int = 1) -> None:
        """The next ``count`` accepted ``POST /2/tweets`` create the tweet, then hang up."""
        with self._cond:
            self._drops += count

    def stop_failing(self) -> None:
        with self._cond:
            self._faults.clear()
            self._reported.clear()
            self._drops = 0
            self._delay_create = self._delay_answer = lambda: 0.0

    def _take_fault(self, method: str, path: str) -> _ApiError | None:
        for fault in self._faults:
            if fault.count == 0 or not _matches(fault.prefix, method, path):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            status = fault.status
            if fault.rng is not None:
                if fault.rng.random() >= fault.rate:
                    continue
                status = fault.rng.choice(fault.statuses)
            else:
                fault.count -= 1
            if status == 429:
                reset = str(int(self._now() + fault.reset_in))
                error = _problem(429, "Too Many Requests", "Too Many Requests")
                error.headers.update({"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset})
                return error
            titles = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Timeout"}
            title = titles.get(status, "Service Unavailable")
            return _problem(status, title, title)
        return None

    # -- request handling --------------------------------------------------------------------
    def _handle(
        self, method: str, raw_path: str, headers: Message, body: bytes
    ) -> tuple[int, JSON | None, dict[str, str]]:
        split = urlsplit(raw_path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        payload: Any = None
        extra: dict[str, str] = {}
        user: str | None = None
        post = self._arrived(body) if method == "POST" and split.path == "/2/tweets" else None
        try:
            payload = _json_body(body)
            for route in _ROUTES:
                if route[0] == method and (match := re.fullmatch(route[1], split.path)):
                    break
            else:
                raise _problem(404, "Not Found Error", f"No route for {method} {split.path}")
            _, _, handler, user_only, allowed, limits = route
            with self._cond:
                user = self._authenticate(headers, method, split, user_only)
                extra = self._count(handler, limits, user)
                for prefix, (remaining, reset_at) in self._reported.items():
                    if _matches(prefix, method, split.path):
                        extra["x-rate-limit-remaining"] = str(remaining)
                        extra["x-rate-limit-reset"] = str(int(reset_at))
                fault = self._take_fault(method, split.path)
            if fault is not None:
                raise fault
            for name in sorted(set(params) - allowed):
                known = ",".join(sorted(allowed))
                raise _invalid(
                    name, params[name], f"The query parameter [{name}] is not one of [{known}]"
                )
            status, out = getattr(self, handler)(_Req(match.groups(), params, payload, user, post))
        except _ApiError as error:
            status, out = error.status, error.body
            extra.update(error.headers)
        except _Dropped:
            status, out = 0, None
        except Exception:  # a failing hook or a bug in the fake: answer like X's 500
            traceback.print_exc()
            status, out = 500, _problem(500, "Internal Server Error", "Internal Error").body
        with self._cond:
            handle = self._users[user]["username"] if user in self._users else None
            call = XCall(method, split.path, params, payload, status, time.time(), handle)
            self._calls.append(call)
            if post is not None:
                answered = None if status == 0 else call.at
                self._update_post(post, answered=answered, status=status, user=handle)
            self._cond.notify_all()
        if self.on_call is not None:
            self.on_call(call)
        return status, out, extra

    def _arrived(self, body: bytes) -> int:
        try:
            sent = json.loads(body) if body else None
        except ValueError:
            sent = None
        text = sent.get("text") if isinstance(sent, dict) else None
        record = PostRecord(
            time.time(), None, None, None, text if isinstance(text, str) else "", None
        )
        with self._cond:
            self._posts.append(record)
            self._cond.notify_all()
            return len(self._posts) - 1

    def _update_post(self, index: int, **changes: Any) -> None:
        with self._cond:
            self._posts[index] = dataclasses.replace(self._posts[index], **changes)
            self._cond.notify_all()

    def _authenticate(
        self, headers: Message, method: str, split: SplitResult, user_only: bool
    ) -> str | None:
        auth = headers.get("Authorization", "")
        if auth == f"Bearer {self.bearer_token}":
            if user_only:  # real X refuses app-only auth for these endpoints
                unsupported = "https://api.twitter.com/2/problems/unsupported-authentication"
                raise _problem(403, "Unsupported Authentication", APP_ONLY, unsupported)
            return None
        if auth.startswith("OAuth "):
            oauth = {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', auth)}
            key = (oauth.get("oauth_consumer_key", ""), oauth.get("oauth_token", ""))
            account = self._accounts.get(key)
            if account and (
                account[1] is None or _signature_ok(account, oauth, method, headers, split)
            ):
                return account[0]
        raise _problem(401, "Unauthorized", "Unauthorized")

    def _count(self, bucket: str, limits: tuple[int, int], user: str | None) -> dict[str, str]:
        """Rate-limit headers; counts per 15-minute window but never refuses on its own."""
        limit, key, now = limits[1 if user else 0], (bucket, user or "app"), self._now()
        start, used = self._windows.get(key, (now, 0))
        start, used = (now, 1) if now - start >= WINDOW_S else (start, used + 1)
        self._windows[key] = (start, used)
        remaining = str(max(limit - used, 0))
        reset = str(int(start + WINDOW_S))
        limit_s = str(limit)
        return {
            "x-rate-limit-limit": limit_s,
            "x-rate-limit-remaining": remaining,
            "x-rate-limit-reset": reset,
        }

    # -- endpoints ---------------------------------------------------------------------------
    def _get_me(self, req: _Req) -> tuple[int, JSON]:
        fields = _fields(req.params, "user.fields", USER_FIELDS)
        with self._cond:
            return 200, {"data": self._user_out(str(req.user), fields)}

    def _get_user(self, req: _Req) -> tuple[int, JSON]:
        (username,) = req.args
        if not re.fullmatch(r"\w{1,15}", username):
            raise _invalid("username", username, f"[{username}] is not a valid username")
        fields = _fields(req.params, "user.fields", USER_FIELDS)
        with self._cond:
            uid = self._by_handle.get(username.lower())
            if uid is None:
                return 200, _not_found("username", username)
            return 200, {"data": self._user_out(uid, fields)}

    def _get_user_by_id(self, req: _Req) -> tuple[int, JSON]:
        (uid,) = req.args
        fields = _fields(req.params, "user.fields", USER_FIELDS)
        with self._cond:
            if uid not in self._users:
                return 200, _not_found("id", uid)
            return 200, {"data": self._user_out(uid, fields)}

    def _get_mentions(self, req: _Req) -> tuple[int, JSON]:
        """The user's mentions, newest first, capped at the 800 most recent as on X."""
        uid = _numeric(req.args[0], "id")
        with self._cond:
            if uid not in self._users:
                return 200, _not_found("id", uid)
            pool = self._mentions.get(uid, [])[-800:]
            return 200, self._page(pool, req.params, 5, "pagination_token")

    def _get_user_tweets(self, req: _Req) -> tuple[int, JSON]:
        """The user's own tweets, newest first, capped at the 3,200 most recent as on X."""
        uid = _numeric(req.args[0], "id")
        exclude = set(filter(None, req.params.get("exclude", "").split(",")))
        if exclude - {"retweets", "replies"}:
            raise _invalid("exclude", req.params["exclude"], "not one of [replies,retweets]")
        no_rt, no_reply = "retweets" in exclude, "replies" in exclude

        def keep(t: _Tweet) -> bool:
            return not ((no_rt and t.is_retweet) or (no_reply and "in_reply_to_user_id" in t.data))

        with self._cond:
            if uid not in self._users:
                return 200, _not_found("id", uid)
            pool = self._authored.get(uid, [])[-3200:]
            return 200, self._page(pool, req.params, 5, "pagination_token", keep)

    def _search(self, req: _Req) -> tuple[int, JSON]:
        query = req.params.get("query", "")
        if not query.strip() or len(query) > 512:
            raise _invalid("query", query, "The `query` parameter must be 1 to 512 characters")
        try:
            pred = _Query(query).pred
        except _QueryError as error:
            message = f"There were errors processing your request: {error}"
            raise _invalid("query", query, message) from None
        token = "next_token" if "next_token" in req.params else "pagination_token"
        with self._cond:
            return 200, self._page(self._order, req.params, 10, token, pred)

    def _get_tweet(self, req: _Req) -> tuple[int, JSON]:
        """One tweet by id; a missing one is 200 with an ``errors`` list, as on X."""
        tid = _numeric(req.args[0], "id")
        fields = _fields(req.params, "tweet.fields", TWEET_FIELDS)
        expansions = _fields(req.params, "expansions", EXPANSIONS)
        user_fields = _fields(req.params, "user.fields", USER_FIELDS)
        with self._cond:
            tweet = self._tweets.get(int(tid))
            if tweet is None:
                kind = "https://api.twitter.com/2/problems/resource-not-found"
                detail = f"Could not find tweet with id: [{tid}]."
                error = {"value": tid, "detail": detail, "title": "Not Found Error", "type": kind}
                error |= {"resource_type": "tweet", "parameter": "id", "resource_id": tid}
                return 200, {"errors": [error]}
            out: JSON = {"data": _tweet_out(tweet, fields)}
            if "author_id" in expansions:
                user = self._user_out(tweet.data["author_id"], user_fields)
                out["includes"] = {"users": [user]}
            return 200, out

    def _may_reply(self, user: str, parent: _Tweet) -> bool:
        """X's reply rule: the parent's author summoned the account (mentioned it, quoted one of
        its tweets, replied to it) — or the parent is the account's own tweet."""
        if parent.data["author_id"] == user or parent.data.get("in_reply_to_user_id") == user:
            return True
        mentioned = {m["id"] for m in parent.data.get("entities", {}).get("mentions", [])}
        if user in mentioned:
            return True
        quoted = [
            r["id"] for r in parent.data.get("referenced_tweets", []) if r["type"] == "quoted"
        ]
        return any(
            (q := self._tweets.get(int(i))) is not None and q.data["author_id"] == user
            for i in quoted
        )

    def _post_tweet(self, req: _Req) -> tuple[int, JSON]:
        body = req.body if isinstance(req.body, dict) else {}
        text, reply, user = body.get("text"), body.get("reply"), str(req.user)
        if not isinstance(text, str) or not text.strip():
            raise _invalid("text", str(text), "$.text: is missing but it is required")
        parent = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        if reply is not None and not isinstance(parent, str):
            raise _invalid("reply", str(reply), "$.reply.in_reply_to_tweet_id: is missing")
        quoted = body.get("quote_tweet_id")
        if quoted is not None and (not isinstance(quoted, str) or not quoted.isdigit()):
            raise _invalid("quote_tweet_id", str(quoted), "$.quote_tweet_id: is not a valid id")
        if weighted_length(text, bare_domains=self.shorten_links) > 280:
            raise _problem(400, "Bad Request", TOO_LONG)
        with self._cond:
            wait_create, wait_answer = self._delay_create(), self._delay_answer()
            if req.post is not None:
                self._update_post(req.post, user=self._users[user]["username"])
        if wait_create > 0:
            time.sleep(wait_create)  # X is slow to store it; the lock is free meanwhile
        with self._cond:
            if parent is not None and (not parent.isdigit() or int(parent) not in self._tweets):
                raise _problem(403, "Forbidden", REPLY_GONE)
            refused = self.reply_rule and parent is not None
            if refused and not self._may_reply(user, self._tweets[int(str(parent))]):
                raise _problem(403, "Forbidden", REPLY_NOT_ALLOWED)
            if quoted is not None and int(quoted) not in self._tweets:
                raise _problem(403, "Forbidden", QUOTE_GONE)
            if (user, text) in self._by_text:
                raise _problem(403, "Forbidden", DUPLICATE)
            handle = self._users[user]["username"]
            tweet = self._insert(
                handle,
                text,
                None,
                None,
                parent,
                "en",
                None,
                False,
                quote_of=quoted,
                source=self.app_name,
            )
            tweet.via_api = True
            created = dict(tweet.data)
            if req.post is not None:
                self._update_post(req.post, created=time.time(), tweet_id=created["id"])
        if self.after_post is not None:
            self.after_post(created)
        if wait_answer > 0:
            time.sleep(wait_answer)  # stored, but the answer is slow to come back
        with self._cond:
            if self._drops > 0:
                self._drops -= 1
                raise _Dropped
        return 201, {"data": {k: created[k] for k in ("id", "text", "edit_history_tweet_ids")}}

    def _delete_tweet(self, req: _Req) -> tuple[int, JSON]:
        tid = int(_numeric(req.args[0], "id"))
        with self._cond:
            tweet = self._tweets.get(tid)
            if tweet is None:
                raise _problem(404, "Not Found Error", f"Could not find tweet with id: [{tid}].")
            author = tweet.data["author_id"]
            if author != req.user:
                raise _problem(403, "Forbidden", "You are not authorized to delete this Tweet.")
            del self._tweets[tid]
            mentioned = [m["id"] for m in tweet.data.get("entities", {}).get("mentions", [])]
            for index in [self._order, self._authored[author]]:
                index.remove(tid)
            for uid in dict.fromkeys(mentioned):
                self._mentions[uid].remove(tid)
            if self._by_text.get((author, tweet.original)) == tid:
                del self._by_text[(author, tweet.original)]
            self._cond.notify_all()
        return 200, {"data": {"deleted": True}}

    # -- rendering ---------------------------------------------------------------------------
    def _page(
        self,
        pool: list[int],
        params: dict[str, str],
        lowest: int,
        token_name: str,
        pred: Pred | None = None,
    ) -> JSON:
        """One newest-first page of ``pool`` (ascending ids) with X's paging ``meta``."""
        raw = params.get("max_results", "10")
        if not raw.isdigit() or not lowest <= int(raw) <= 100:
            message = (
                f"The `max_results` query parameter value [{raw}] is not between {lowest} and 100"
            )
            raise _invalid("max_results", raw, message)
        limit, since, until = int(raw), _id(params, "since_id"), _id(params, "until_id")
        start, end = _time(params, "start_time"), _time(params, "end_time")
        fields = _fields(params, "tweet.fields", TWEET_FIELDS)
        expansions = _fields(params, "expansions", EXPANSIONS)
        user_fields = _fields(params, "user.fields", USER_FIELDS)
        token = params.get(token_name)
        if token is not None:  # our tokens are "7140" + the hex id to continue below
            if not re.fullmatch(r"7140[0-9a-f]+", token):
                raise _invalid(token_name, token, f"The `{token_name}` value is not valid")
            until = min(int(token[4:], 16), until or int(token[4:], 16))
        found: list[_Tweet] = []
        for i in reversed(range(bisect.bisect_left(pool, until) if until else len(pool))):
            tweet = self._tweets[pool[i]]
            if since is not None and tweet.id <= since:
                break
            if (start and tweet.created < start) or (end and tweet.created >= end):
                continue
            if pred is None or pred(tweet):
                found.append(tweet)
                if len(found) > limit:
                    break
        page = found[:limit]
        out: JSON = {}
        if page:
            out["data"] = [_tweet_out(t, fields) for t in page]
            users = [t.data["author_id"] for t in page] if "author_id" in expansions else []
            if "in_reply_to_user_id" in expansions:
                users += [
                    t.data["in_reply_to_user_id"] for t in page if t.data.get("in_reply_to_user_id")
                ]
            if "entities.mentions.username" in expansions:
                users += [
                    m["id"] for t in page for m in t.data.get("entities", {}).get("mentions", [])
                ]
            if users:
                includes = [self._user_out(u, user_fields) for u in dict.fromkeys(users)]
                out["includes"] = {"users": includes}
        meta: JSON = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0].data["id"], oldest_id=page[-1].data["id"])
        if len(found) > limit:
            meta["next_token"] = f"7140{page[-1].id:x}"
        out["meta"] = meta
        return out

    def _user_out(self, uid: str, fields: set[str]) -> JSON:
        user = self._users[uid]
        return {k: user[k] for k in ("id", "name", "username", *sorted(fields)) if k in user}


def _tweet_out(tweet: _Tweet, fields: set[str]) -> JSON:
    keys = ("id", "text", "edit_history_tweet_ids", *sorted(fields))
    out = {k: tweet.data[k] for k in keys if k in tweet.data}
    # X's v2 API HTML-escapes &, < and > in tweet text; so does the fake.
    out["text"] = out["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out


def _delay(value: Delay) -> Callable[[], float]:
    return value if callable(value) else (lambda: float(value))


def _tco(url: str) -> str:
    """X's short link for a URL: ``https://t.co/`` and 10 letters or digits (stable per URL)."""
    number = int.from_bytes(hashlib.sha256(url.encode()).digest()[:10], "big")
    code = ""
    for _ in range(10):
        number, digit = divmod(number, 62)
        code += _BASE62[digit]
    return f"https://t.co/{code}"


def _shorten(text: str) -> tuple[str, list[JSON]]:
    """Rewrite each link to its t.co link, as X stores a tweet; return the text and the
    ``entities.urls`` describing each link (positions in the rewritten text)."""
    out, urls, last = "", [], 0
    for m in _LINK_RE.finditer(text):
        link = m[0]
        expanded = link if re.match(r"https?://", link, re.IGNORECASE) else f"http://{link}"
        short = _tco(expanded)
        out += text[last : m.start()]
        display = re.sub(r"^https?://(www\.)?", "", expanded, flags=re.IGNORECASE)
        display = display if len(display) <= 26 else display[:25] + "\u2026"
        start = len(out)
        out += short
        urls.append(
            {"start": start, "end": len(out), "url": short, "expanded_url": expanded}
            | {"display_url": display}
        )
        last = m.end()
    return out + text[last:], urls


def _signature_ok(
    account: tuple[str, str | None, str | None],
    oauth: dict[str, str],
    method: str,
    headers: Message,
    split: SplitResult,
) -> bool:
    """RFC 5849 HMAC-SHA1 over the URL the client signed (the rewritten one)."""

    def pct(value: str) -> str:
        return quote(value, safe="-._~")

    pairs = parse_qsl(split.query, keep_blank_values=True)
    pairs += [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
    normal = "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in pairs))
    uri = f"http://{headers.get('Host', '').lower()}{split.path}"
    base = "&".join((method.upper(), pct(uri), pct(normal)))
    key = f"{pct(account[1] or '')}&{pct(account[2] or '')}"
    digest = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest())
    return hmac.compare_digest(digest.decode(), oauth.get("oauth_signature", ""))


def _insort(index: list[int], tid: int) -> None:
    if index and index[-1] > tid:
        bisect.insort(index, tid)
    else:
        index.append(tid)


def _matches(prefix: str | None, method: str, path: str) -> bool:
    if prefix is None:
        return True
    verb, _, rest = prefix.partition(" ")
    return method == verb.upper() and path.startswith(rest) if rest else path.startswith(prefix)


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        raise _problem(400, "Invalid Request", "The request body is not valid JSON") from None


def _numeric(value: str, name: str) -> str:
    if not value.isdigit():
        raise _invalid(name, value, f"The `{name}` query parameter value [{value}] is not valid")
    return value


def _id(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    return None if value is None else int(_numeric(value, name))


def _time(params: dict[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        message = f"Invalid '{name}':'{value}'. It must be in the format YYYY-MM-DDTHH:mm:ssZ"
        raise _invalid(name, value, message) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fields(params: dict[str, str], name: str, allowed: frozenset[str]) -> set[str]:
    asked = set(filter(None, params.get(name, "").split(",")))
    for bad in sorted(asked - allowed):
        message = f"The `{name}` query parameter value [{bad}] is not one of [{','.join(sorted(allowed))}]"
        raise _invalid(name, bad, message)
    return asked
