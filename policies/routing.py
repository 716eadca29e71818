"""Which segment a mention belongs to, and why (the "why here" line on its Slack card).

The rules, in order:

1. **Routing rules**, in file order; the first that matches wins. A rule matches when *every*
   criterion it lists matches (AND across keys); a list criterion matches when *any* of its
   values does (OR within a key):

   - ``keywords``: case-insensitive whole word or phrase. A keyword must not touch a letter,
     digit or ``_`` on either side, so "down" matches "down!", "#down" and "down-time" but not
     "downtown"; the words of a phrase may be separated by any whitespace ("data  leak").
   - ``hashtags``: the tweet's hashtags (``#`` followed by letters, digits or ``_``, in any
     script, not preceded by one) compared case-insensitively; ``#`` optional in the config.
   - ``authors``: the author's handle, case-insensitive, ``@`` optional.
   - ``regex``: ``re.search`` with IGNORECASE on the tweet text.
   - ``lang``: the tweet's language is one of these; a tweet with no language never matches.
   - ``sentiment_below``: the tweet has a sentiment (VADER compound, computed by the caller)
     and it is strictly below the threshold. No sentiment never matches.

2. Otherwise, **follow rules**: the first segment (file order) whose ``follow`` matches. Its
   interests are keywords, hashtags, authors and regexes (matched as above); its filters are
   lang and sentiment_below. A follow with interests matches when ANY interest matches AND every
   filter it sets holds. A follow with no interests but some filter matches when every filter
   holds, so ``follow: {sentiment_below: -0.5}`` takes every sufficiently negative mention and
   ``follow: {lang: [es]}`` every Spanish one. A follow with neither never matches:
   ``mentions: true`` alone means "wants the account's mention stream", it does not route.

3. Otherwise the ``routing.default_segment``.

Compiled rules are cached per config object (configs are frozen; a changed config is a new
object), so routing a mention is a handful of precompiled regex searches.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from policies.config import BrandConfig, FollowRules, RoutingRule


class MentionLike(Protocol):
    """What routing needs to know about a mention."""

    @property
    def text(self) -> str: ...

    @property
    def author_handle(self) -> str: ...

    @property
    def lang(self) -> str | None: ...

    @property
    def sentiment(self) -> float | None: ...


@dataclass(frozen=True)
class MentionFacts:
    """A plain MentionLike, for callers (and tests) without a mention object at hand."""

    text: str
    author_handle: str = ""
    lang: str | None = None
    sentiment: float | None = None


@dataclass(frozen=True)
class RouteDecision:
    segment: str
    reason: str  # e.g. 'rule 1: keyword "hacked" and sentiment -0.72 < -0.6'


def route(mention: MentionLike, config: BrandConfig) -> str:
    """The name of the segment `mention` belongs to."""
    return explain_route(mention, config).segment


def explain_route(mention: MentionLike, config: BrandConfig) -> RouteDecision:
    """The segment `mention` belongs to, with a human-readable reason."""
    router = _router_for(config)
    facts = _Facts(mention)
    for number, rule in enumerate(router.rules, start=1):
        parts = rule.explain_rule(facts)
        if parts is not None:
            return RouteDecision(rule.segment, f"rule {number}: " + " and ".join(parts))
    for follow in router.follows:
        parts = follow.explain_follow(facts)
        if parts is not None:
            return RouteDecision(follow.segment, "follows " + " and ".join(parts))
    return RouteDecision(router.default_segment, "default segment")


# ---------------------------------------------------------------------------------------------
# Mention facts, normalised once per mention

_HASHTAG = re.compile(r"(?<!\w)[#\uff03](\w+)")


class _Facts:
    __slots__ = ("_hashtags", "author", "lang", "sentiment", "text")

    def __init__(self, mention: MentionLike) -> None:
        self.text = mention.text or ""
        self.author = (mention.author_handle or "").removeprefix("@").lower()
        self.lang = mention.lang.lower() if mention.lang else None
        self.sentiment = mention.sentiment
        self._hashtags: list[str] | None = None

    def hashtags(self) -> list[str]:
        """The tweet's hashtags as ``#lowercase``, in order of appearance."""
        if self._hashtags is None:
            self._hashtags = ["#" + tag.lower() for tag in _HASHTAG.findall(self.text)]
        return self._hashtags


def _number(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str]:
    """One pattern for all keywords; group ``k<i>`` tells which matched."""
    alternatives = (
        f"(?P<k{i}>" + r"\s+".join(re.escape(word) for word in keyword.split()) + ")"
        for i, keyword in enumerate(keywords)
    )
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


# A check returns a description of what matched ('keyword "hacked"'), or None.
_Check = Callable[[_Facts], str | None]


class _Criteria:
    """Compiled criteria of one routing rule or follow."""

    def __init__(
        self,
        *,
        keywords: Sequence[str],
        hashtags: Sequence[str],
        authors: Sequence[str],
        regexes: Sequence[str],
        langs: Sequence[str],
        sentiment_below: float | None,
    ) -> None:
        self.keywords = list(keywords)
        self.keyword_re = _keyword_pattern(keywords) if keywords else None
        self.hashtags = frozenset(hashtags)
        self.authors = frozenset(authors)
        self.regexes = [(p, re.compile(p, re.IGNORECASE)) for p in regexes]
        self.langs = frozenset(langs)
        self.sentiment_below = sentiment_below

    def keyword(self, facts: _Facts) -> str | None:
        assert self.keyword_re is not None
        match = self.keyword_re.search(facts.text)
        if match is None or match.lastgroup is None:
            return None
        return f'keyword "{self.keywords[int(match.lastgroup[1:])]}"'

    def hashtag(self, facts: _Facts) -> str | None:
        for tag in facts.hashtags():
            if tag in self.hashtags:
                return f"hashtag {tag}"
        return None

    def author(self, facts: _Facts) -> str | None:
        return f"author @{facts.author}" if facts.author in self.authors else None

    def regex(self, facts: _Facts) -> str | None:
        for source, pattern in self.regexes:
            if pattern.search(facts.text):
                return f"regex /{source}/"
        return None

    def lang(self, facts: _Facts) -> str | None:
        return f"lang {facts.lang}" if facts.lang in self.langs else None

    def sentiment(self, facts: _Facts) -> str | None:
        threshold, value = self.sentiment_below, facts.sentiment
        if threshold is None or value is None or not value < threshold:
            return None
        return f"sentiment {_number(value)} < {_number(threshold)}"

    def interest_checks(self) -> list[_Check]:
        """Checks for the criteria that are set, cheapest first."""
        checks: list[_Check] = []
        if self.authors:
            checks.append(self.author)
        if self.hashtags:
            checks.append(self.hashtag)
        if self.keyword_re is not None:
            checks.append(self.keyword)
        if self.regexes:
            checks.append(self.regex)
        return checks

    def filter_checks(self) -> list[_Check]:
        checks: list[_Check] = []
        if self.sentiment_below is not None:
            checks.append(self.sentiment)
        if self.langs:
            checks.append(self.lang)
        return checks


_CANONICAL_ORDER = ("keyword", "hashtag", "author", "regex", "lang", "sentiment")


def _in_canonical_order(parts: list[str]) -> list[str]:
    return sorted(parts, key=lambda part: _CANONICAL_ORDER.index(part.split(" ", 1)[0]))


class _CompiledRule:
    def __init__(self, rule: RoutingRule) -> None:
        self.segment = rule.segment
        criteria = _Criteria(
            keywords=rule.keywords,
            hashtags=rule.hashtags,
            authors=rule.authors,
            regexes=[rule.regex] if rule.regex is not None else [],
            langs=rule.lang,
            sentiment_below=rule.sentiment_below,
        )
        # Every criterion must hold: check the cheap ones first and stop at the first miss.
        self.checks = criteria.filter_checks() + criteria.interest_checks()

    def explain_rule(self, facts: _Facts) -> list[str] | None:
        parts: list[str] = []
        for check in self.checks:
            part = check(facts)
            if part is None:
                return None
            parts.append(part)
        return _in_canonical_order(parts)


class _CompiledFollow:
    def __init__(self, segment: str, follow: FollowRules) -> None:
        self.segment = segment
        criteria = _Criteria(
            keywords=follow.keywords,
            hashtags=follow.hashtags,
            authors=follow.authors,
            regexes=follow.regex,
            langs=follow.lang,
            sentiment_below=follow.sentiment_below,
        )
        self.interests = criteria.interest_checks()
        self.filters = criteria.filter_checks()
        self.active = bool(self.interests or self.filters)

    def explain_follow(self, facts: _Facts) -> list[str] | None:
        if not self.active:
            return None
        parts: list[str] = []
        for check in self.filters:
            part = check(facts)
            if part is None:
                return None
            parts.append(part)
        if self.interests:
            for check in self.interests:
                part = check(facts)
                if part is not None:
                    parts.append(part)
                    break
            else:
                return None
        return _in_canonical_order(parts)


class _Router:
    def __init__(self, config: BrandConfig) -> None:
        self.rules = [_CompiledRule(rule) for rule in config.routing.rules]
        follows = [_CompiledFollow(name, seg.follow) for name, seg in config.segments.items()]
        self.follows = [follow for follow in follows if follow.active]
        self.default_segment = config.routing.default_segment


# Keyed by id(config); the entry keeps the config alive, so the id cannot be reused while cached.
_ROUTERS: dict[int, tuple[BrandConfig, _Router]] = {}
_ROUTERS_MAX = 8
_ROUTERS_LOCK = threading.Lock()


def _router_for(config: BrandConfig) -> _Router:
    entry = _ROUTERS.get(id(config))
    if entry is not None and entry[0] is config:
        return entry[1]
    router = _Router(config)
    with _ROUTERS_LOCK:
        while len(_ROUTERS) >= _ROUTERS_MAX:
            del _ROUTERS[next(iter(_ROUTERS))]
        _ROUTERS[id(config)] = (config, router)
    return router
