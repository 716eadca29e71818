"""The schema of app.yaml: its pydantic models, the field validators behind them (each
message written for the person editing the file) and the constants they share."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from policies.config.checks import cross_field_problems, dotted
from policies.sentiment_terms import normalise_term, term_problem

with warnings.catch_warnings():  # the regex parser, for the nesting check; typed, though deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as _sre_constants
    import sre_parse as _sre

STANDARD_SEGMENTS: tuple[str, ...] = (
    "customer_relations",
    "crisis_management",
    "reputation_management",
    "event_coverage",
    "product_promotion",
    "issue_advocacy",
)
CRISIS_SEGMENT = "crisis_management"
CRISIS_APPROVALS = 2
DEFAULT_APPROVALS = 1

# ---------------------------------------------------------------------------------------------
# Field types: each validator raises a message written for the person editing app.yaml


def _fail(kind: str, message: str) -> NoReturn:
    # The message goes through the context so braces in it (regexes!) are not format fields.
    raise PydanticCustomError(kind, "{detail}", {"detail": message})


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


def _none_to_dict(value: Any) -> Any:
    return {} if value is None else value


_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
_ENV_PREFIX = re.compile(r"[A-Z][A-Z0-9_]*")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")
_PRINCIPAL_ID = re.compile(r"[UWS][A-Z0-9_]{2,}")
_SEGMENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")  # Slack caps option text at 75
_LANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]+)*")
_WORD = re.compile(r"\w+")
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


def _handle(value: str) -> str:
    if value.startswith("@") and _HANDLE.fullmatch(value[1:]):
        _fail("handle", f"{value!r}: write the X handle without the @, like {value[1:]!r}")
    if not _HANDLE.fullmatch(value):
        _fail("handle", f"{value!r} is not an X handle (1-15 letters, digits or _, no @)")
    return value


def _handle_ref(value: str) -> str:
    """A handle written by a human in a list: `@` optional, compared case-insensitively."""
    bare = value.strip().removeprefix("@")
    if not _HANDLE.fullmatch(bare):
        _fail("handle", f"{value!r} is not an X handle (1-15 letters, digits or _)")
    return bare.lower()


def _env_prefix(value: str) -> str:
    if not _ENV_PREFIX.fullmatch(value):
        _fail(
            "credentials_env",
            f"{value!r} must be an environment-variable prefix in capitals like ACME "
            "(the app then reads ACME_X_CONSUMER_KEY, ACME_X_CONSUMER_SECRET, "
            "ACME_X_ACCESS_TOKEN, ACME_X_ACCESS_TOKEN_SECRET; secrets never go in app.yaml)",
        )
    return value


def _channel(value: Any) -> Any:
    if value is None:
        _fail(
            "channel",
            "is empty; it must be a Slack channel ID like C0123ABCD, not a #name "
            "(an unquoted # starts a YAML comment, which leaves the value empty)",
        )
    if isinstance(value, str) and not _CHANNEL_ID.fullmatch(value):
        _fail(
            "channel",
            f"{value!r} must be a Slack channel ID like C0123ABCD, not a #name "
            "(in Slack: open the channel's details, the ID is at the bottom of About)",
        )
    return value


def _principal(value: Any) -> Any:
    if isinstance(value, str) and not _PRINCIPAL_ID.fullmatch(value):
        _fail(
            "slack_id",
            f"{value!r} must be a Slack user ID like U0123ABCD or a user-group ID like "
            "S0123ABCD, not a @name",
        )
    return value


def _segment_name(value: str) -> str:
    if not _SEGMENT_NAME.fullmatch(value):
        _fail(
            "segment_name",
            f"segment name {value!r} must be lower_snake_case (a-z, 0-9, _), at most 50 long, "
            f"like {STANDARD_SEGMENTS[0]!r}",
        )
    return value


def _keyword(value: str) -> str:
    words = value.split()
    if not words:
        _fail("keyword", "a keyword cannot be empty")
    return " ".join(words)


def _hashtag(value: str) -> str:
    tag = value.strip().removeprefix("#")
    if not _WORD.fullmatch(tag):
        _fail("hashtag", f"{value!r} is not a hashtag: one word of letters, digits or _")
    return "#" + tag.lower()


def _regex(value: str) -> str:
    try:
        re.compile(value, re.IGNORECASE)
    except re.error as exc:
        _fail("regex", f"invalid regex {value!r}: {exc}")
    if _repeats_a_repeat(_sre.parse(value)):
        _fail(
            "regex",
            f"regex {value!r} repeats a repetition (like (a+)+), which can take exponential "
            "time on an unlucky tweet and stall every poll; write it without the nesting",
        )
    return value


_REPEATS = (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT, _sre_constants.POSSESSIVE_REPEAT)


def _repeats_a_repeat(pattern: Any, *, inside: bool = False) -> bool:
    """Is an unbounded repetition nested in another repetition (catastrophic backtracking)?"""
    for op, av in pattern:
        if op in _REPEATS:
            _lo, hi, body = av
            if inside and hi == _sre_constants.MAXREPEAT:  # unbounded, within a repetition
                return True
            if _repeats_a_repeat(body, inside=inside or hi > 1):
                return True
            continue
        for part in av if isinstance(av, tuple | list) else (av,):
            subpatterns = part if isinstance(part, list) else [part]
            for sub in subpatterns:
                if isinstance(sub, _sre.SubPattern) and _repeats_a_repeat(sub, inside=inside):
                    return True
    return False


def _lang(value: str) -> str:
    lang = value.strip().lower()
    if not _LANG.fullmatch(lang):
        _fail("lang", f"{value!r} is not a language code like 'en', 'pt' or 'und'")
    return lang


def _domain(value: str) -> str:
    domain = value.strip().lower()
    if not _DOMAIN.fullmatch(domain):
        _fail("domain", f"{value!r} must be a bare domain like 'acme.com' (no https://, no path)")
    return domain


_TAG = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
# What a saved reply may say about the mention it answers (filled in when it is chosen).
PLACEHOLDERS: tuple[str, ...] = ("author", "author_name", "account", "brand")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _tag(value: str) -> str:
    tag = value.strip().lower()
    if not _TAG.fullmatch(tag):
        _fail(
            "tag",
            f"{value!r} is not a tag: one word of letters, digits, - or _, at most 30 long, "
            "like 'billing'",
        )
    return tag


def _unique(kind: str) -> Any:
    def check(values: list[Any]) -> list[Any]:
        names = [getattr(v, "name", v) for v in values]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            _fail(kind, f"{', '.join(map(repr, doubled))} is listed twice")
        return values

    return check


# A Slack select (the card's Tags, the reply form's saved replies) holds at most 100 options: a
# 101st tag made every card of the segment fail to build, a 101st saved reply was never offered.
MAX_MENU = 100


def _at_most(limit: int, what: str) -> Any:
    def check(values: list[Any]) -> list[Any]:
        if len(values) > limit:
            _fail(
                "too_many",
                f"at most {limit} {what} (Slack's menus hold no more), not {len(values)}",
            )
        return values

    return check


def _saved_reply_text(value: str) -> str:
    unknown = [p for p in _PLACEHOLDER.findall(value) if p not in PLACEHOLDERS]
    if unknown:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        _fail(
            "placeholder",
            f"unknown placeholder {{{unknown[0]}}} in a saved reply; the known ones are {known}",
        )
    if not value.strip():
        _fail("saved_reply", "a saved reply's text cannot be empty")
    return value.strip()


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """A saved reply's text with its {placeholders} filled in (unknown ones left as typed)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), text)


def follow_value(kind: str, value: str) -> str:
    """A `follow:` keyword, hashtag or author as the loader stores it ("#Refund" → "#refund"),
    or, when it is no valid one, as typed (the validation then says what is wrong)."""
    normalise = {"keywords": _keyword, "hashtags": _hashtag, "authors": _handle_ref}[kind]
    try:
        return normalise(value)
    except PydanticCustomError:
        return value.strip()


Handle = Annotated[str, AfterValidator(_handle)]
HandleRef = Annotated[str, AfterValidator(_handle_ref)]
EnvPrefix = Annotated[str, AfterValidator(_env_prefix)]
ChannelId = Annotated[str, BeforeValidator(_channel)]
SlackPrincipal = Annotated[str, BeforeValidator(_principal)]
SegmentName = Annotated[str, AfterValidator(_segment_name)]
Keyword = Annotated[str, AfterValidator(_keyword)]
Hashtag = Annotated[str, AfterValidator(_hashtag)]
Regex = Annotated[str, AfterValidator(_regex)]
Lang = Annotated[str, AfterValidator(_lang)]
Domain = Annotated[str, AfterValidator(_domain)]
Sentiment = Annotated[float, Field(ge=-1.0, le=1.0)]

Keywords = Annotated[list[Keyword], BeforeValidator(_none_to_list)]
Hashtags = Annotated[list[Hashtag], BeforeValidator(_none_to_list)]
Authors = Annotated[list[HandleRef], BeforeValidator(_none_to_list)]
Regexes = Annotated[list[Regex], BeforeValidator(_none_to_list)]
Langs = Annotated[list[Lang], BeforeValidator(_none_to_list)]
Principals = Annotated[list[SlackPrincipal], BeforeValidator(_none_to_list)]
Terms = Annotated[list[Keyword], BeforeValidator(_none_to_list)]
Tag = Annotated[str, AfterValidator(_tag)]
Tags = Annotated[
    list[Tag],
    BeforeValidator(_none_to_list),
    AfterValidator(_unique("tag")),
    AfterValidator(_at_most(MAX_MENU, "tags")),
]
SavedReplyText = Annotated[str, Field(max_length=1000), AfterValidator(_saved_reply_text)]
Domains = Annotated[list[Domain], BeforeValidator(_none_to_list)]

_CLOCK_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock_time(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 09:30 as the sexagesimal number 570: say to quote it.
    if isinstance(value, int) and not isinstance(value, bool):
        _fail("clock_time", 'write a time of day in quotes, like "09:30" (24-hour HH:MM)')
    if not isinstance(value, str) or not _CLOCK_TIME.fullmatch(value.strip()):
        _fail("clock_time", f'{value!r} is not a time of day; write it like "09:30" (24-hour)')
    return value.strip()


def _weekday(value: Any) -> Any:
    day = str(value).strip().lower()[:3]
    if day not in WEEKDAYS:
        _fail("weekday", f"{value!r} is not a day of the week; write mon, tue, … sun")
    return day


def _time_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(
            "time_zone",
            f"{value!r} is not a time zone; write an IANA name like 'Europe/London' or "
            "'America/New_York' (or 'UTC')",
        )
    return value


ClockTime = Annotated[str, BeforeValidator(_clock_time)]
Weekday = Annotated[str, BeforeValidator(_weekday)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Price = Annotated[float, Field(ge=0.0, le=100.0)]


# ---------------------------------------------------------------------------------------------
# Models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Account(_Model):
    """An X account the team watches and posts as."""

    handle: Handle
    credentials_env: EnvPrefix
    max_posts_per_hour: Annotated[int, Field(ge=1, le=100)] = 6
    # The fewest approvals any draft posting as this account needs, whatever segment it is
    # filed under: a lenient segment is no way around a careful account.
    min_approvals: Annotated[int, Field(ge=1, le=10)] = 1


class FollowRules(_Model):
    """Which mentions and searches land in a segment (see `policies.routing`)."""

    mentions: bool = True
    keywords: Keywords = []
    hashtags: Hashtags = []
    authors: Authors = []
    regex: Regexes = []
    lang: Langs = []
    sentiment_below: Sentiment | None = None

    @property
    def has_interests(self) -> bool:
        """Keywords, hashtags, authors or regexes: what the segment is about."""
        return bool(self.keywords or self.hashtags or self.authors or self.regex)

    @property
    def has_filters(self) -> bool:
        """Language or sentiment conditions."""
        return bool(self.lang) or self.sentiment_below is not None


class CreateRules(_Model):
    """What drafts in a segment may say (enforced by the draft lint)."""

    banned_terms: Terms = []
    allowed_link_domains: Domains = []


class SavedReply(_Model):
    """A canned answer responders pick in the reply form; still linted and approved."""

    name: Annotated[str, Field(min_length=1, max_length=75)]  # Slack caps option text at 75
    text: SavedReplyText


SavedReplies = Annotated[
    list[SavedReply],
    BeforeValidator(_none_to_list),
    AfterValidator(_unique("saved_reply")),
    AfterValidator(_at_most(MAX_MENU, "saved replies")),
]


class QuietHours(_Model):
    """When a segment's team is off (in the config's `time_zone`): reminders and escalations that
    fall due inside wait until it ends. The response clock keeps running — the customer waits
    through the night too, and the reports say so."""

    start: ClockTime
    end: ClockTime  # may be before `start`: 20:00-08:00 spans midnight
    days: Annotated[list[Weekday], BeforeValidator(_none_to_list)] = list(WEEKDAYS)


class Segment(_Model):
    """One part of the brand's X work, run from one Slack channel.

    `approvals_required` is None only on a Segment built on its own; inside a `BrandConfig` it
    is always resolved (2 for crisis_management, else 1).
    """

    channel: ChannelId
    approvers: Principals = []
    approvals_required: Annotated[int, Field(ge=1)] | None = None
    first_response_minutes: Annotated[int, Field(ge=1, le=10080)] = 60
    accounts: list[HandleRef] | None = None
    responders: Principals = []
    follow: Annotated[FollowRules, BeforeValidator(_none_to_dict)] = Field(
        default_factory=FollowRules
    )
    create: Annotated[CreateRules, BeforeValidator(_none_to_dict)] = Field(
        default_factory=CreateRules
    )
    # The responder's inbox: labels for its mentions, canned replies, and how late an approved
    # post may go out before an approver confirms it is still right.
    tags: Tags = []
    saved_replies: SavedReplies = []
    stale_after_minutes: Annotated[int, Field(ge=1, le=10080)] = 30
    # Response targets that nag: after the target, remind every this many minutes until someone
    # acknowledges or answers; none inside quiet hours.
    remind_every_minutes: Annotated[int, Field(ge=1, le=1440)] = 30
    quiet_hours: QuietHours | None = None


ROUTING_CRITERIA: tuple[str, ...] = (
    "keywords",
    "hashtags",
    "authors",
    "regex",
    "lang",
    "sentiment_below",
)


class RoutingRule(_Model):
    """Send matching mentions to `segment`: every listed criterion must hold."""

    segment: str
    keywords: Keywords = []
    hashtags: Hashtags = []
    authors: Authors = []
    regex: Regex | None = None
    lang: Langs = []
    sentiment_below: Sentiment | None = None

    @model_validator(mode="after")
    def _needs_a_criterion(self) -> RoutingRule:
        if not any(getattr(self, name) not in (None, []) for name in ROUTING_CRITERIA):
            _fail(
                "routing_rule",
                "a routing rule needs at least one criterion: " + ", ".join(ROUTING_CRITERIA),
            )
        return self


class Routing(_Model):
    default_segment: str
    rules: Annotated[list[RoutingRule], BeforeValidator(_none_to_list)] = []


class AuditSettings(_Model):
    """`audit:` — where `brandbot audit anchor` also posts the chain's head, if anywhere."""

    anchor_channel: ChannelId | None = None


def _sentiment_weight(value: float) -> float:
    if not -4.0 <= value <= 4.0:
        _fail(
            "sentiment_weight",
            f"a sentiment weight is from -4 (very negative) to 4 (very positive), not {value:g}",
        )
    return value


SentimentWeight = Annotated[float, AfterValidator(_sentiment_weight)]


def _sentiment_term(value: str) -> str:
    problem = term_problem(value)
    if problem:
        _fail("sentiment_term", problem)
    return normalise_term(value)


def _distinct_terms(value: Any) -> Any:
    """Terms differing only in case or spacing are one term: say so rather than keep one."""
    if isinstance(value, Mapping):
        seen: dict[str, str] = {}
        for term in value:
            if isinstance(term, str) and normalise_term(term) in seen:
                first = seen[normalise_term(term)]
                _fail("sentiment_term", f"{term!r} is the same term as {first!r}")
            if isinstance(term, str):
                seen[normalise_term(term)] = term
    return value


SentimentTerm = Annotated[str, AfterValidator(_sentiment_term)]


class SentimentSettings(_Model):
    """`sentiment:` — words and phrases that mean more (or other) things to this brand's care
    team than to a general-purpose lexicon, with a weight from -4 (very negative) to 4."""

    extra_terms: Annotated[
        dict[SentimentTerm, SentimentWeight],
        BeforeValidator(_none_to_dict),
        BeforeValidator(_distinct_terms),
    ] = {}


class SpikeSettings(_Model):
    """`alerts.spike:` — a storm of mentions: the last `window_minutes` of an account's mentions
    (negative ones, and all) against the same hour on the previous `baseline_days` days. It fires
    when either count reaches `factor` times its baseline and at least its floor
    (`min_negative`, `min_mentions`), so a quiet account's first few complaints are no storm."""

    enabled: bool = True
    window_minutes: Annotated[int, Field(ge=5, le=60)] = 10
    baseline_days: Annotated[int, Field(ge=1, le=28)] = 7
    factor: Annotated[float, Field(ge=1.5, le=50.0)] = 4.0
    min_negative: Annotated[int, Field(ge=1, le=10000)] = 10
    min_mentions: Annotated[int, Field(ge=1, le=100000)] = 40
    negative_below: Annotated[float, Field(ge=-1.0, le=0.0)] = -0.3


class AlertSettings(_Model):
    """`alerts:` — brand disruption. Alerts go to `channel`; left out, to the crisis_management
    segment's channel (else the default segment's)."""

    channel: ChannelId | None = None
    # Read each account's own timeline and flag its tweets that brandbot did not post.
    posts_around_brandbot: bool = True
    spike: Annotated[SpikeSettings, BeforeValidator(_none_to_dict)] = Field(
        default_factory=SpikeSettings
    )


class DigestSettings(_Model):
    """`digest:` — post the report's summary and chart to `channel` every hour, day or week: a day
    at `at` (the config's time zone) for the day before, a week on `weekday` for the week
    before, an hour at its end."""

    channel: ChannelId
    every: Literal["hour", "day", "week"] = "day"
    at: ClockTime = "09:00"
    weekday: Weekday = "mon"


class XPrices(_Model):
    """`x_prices:` — what X charges per resource, in US dollars, for the reports' cost estimate
    (pay-per-use list prices, Aug 2026; set your contract's)."""

    post_read: Price = 0.005
    user_read: Price = 0.010
    owned_read: Price = 0.001  # the account's own mentions timeline and own tweets
    post_create: Price = 0.015
    post_create_with_url: Price = 0.20
    summoned_reply: Price = 0.010


class SlackPacing(_Model):
    """`slack_pacing:` — how fast brandbot sends messages into one channel (Slack accepts about
    one a second per channel). A token bucket shared by every replica through the database:
    `burst` messages at once, then `messages_per_second`."""

    messages_per_second: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    burst: Annotated[int, Field(ge=1, le=20)] = 3


class SurgeSettings(_Model):
    """`surge:` — when a segment's channel has more unsent mention cards than it could send in
    `max_wait_seconds` at the channel's pace, one summary card stands for them (updated in place
    as the surge grows, with Show next 10 and Claim next) until the backlog is gone."""

    enabled: bool = True
    max_wait_seconds: Annotated[int, Field(ge=5, le=3600)] = 60
    examples: Annotated[int, Field(ge=1, le=10)] = 5  # example mentions the summary quotes


class XBudget(_Model):
    """`x_budget:` — what brandbot may spend reading X in a calendar month (UTC), in reads
    (resources), in US dollars at `x_prices`, or both; left out, unlimited. Admins are warned at
    `warn_at_percent` and at 100 %, where polling falls back to the mentions timelines only."""

    monthly_reads: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    monthly_usd: Annotated[float, Field(gt=0.0, le=1_000_000.0)] | None = None
    warn_at_percent: Annotated[int, Field(ge=1, le=99)] = 80


_SKIP_CROSS_CHECKS = "brandbot.cross_checks_done"


class BrandConfig(_Model):
    """The whole of app.yaml."""

    brand: Annotated[str, Field(min_length=1)]
    admins: Annotated[list[SlackPrincipal], Field(min_length=1)]
    accounts: Annotated[list[Account], Field(min_length=1)]
    poll_seconds: Annotated[int, Field(ge=5, le=3600)] = 15
    segments: Annotated[dict[SegmentName, Segment], Field(min_length=1)]
    routing: Routing
    audit: Annotated[AuditSettings, BeforeValidator(_none_to_dict)] = Field(
        default_factory=AuditSettings
    )
    sentiment: Annotated[SentimentSettings, BeforeValidator(_none_to_dict)] = Field(
        default_factory=SentimentSettings
    )
    # The team's time zone: quiet hours, and where a report's day and week begin.
    time_zone: TimeZone = "UTC"
    alerts: Annotated[AlertSettings, BeforeValidator(_none_to_dict)] = Field(
        default_factory=AlertSettings
    )
    digest: DigestSettings | None = None
    x_prices: Annotated[XPrices, BeforeValidator(_none_to_dict)] = Field(default_factory=XPrices)
    # Polling adapts to traffic: every poll_seconds while mentions flow, slowing to
    # poll_quiet_seconds when quiet (never faster than poll_seconds).
    poll_quiet_seconds: Annotated[int, Field(ge=5, le=3600)] = 60
    x_budget: Annotated[XBudget, BeforeValidator(_none_to_dict)] = Field(default_factory=XBudget)
    slack_pacing: Annotated[SlackPacing, BeforeValidator(_none_to_dict)] = Field(
        default_factory=SlackPacing
    )
    surge: Annotated[SurgeSettings, BeforeValidator(_none_to_dict)] = Field(
        default_factory=SurgeSettings
    )

    @model_validator(mode="before")
    @classmethod
    def _resolve_approvals(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("segments"), Mapping):
            return data
        segments: dict[Any, Any] = {}
        for name, segment in data["segments"].items():
            default = default_approvals(str(name))
            if isinstance(segment, Mapping) and segment.get("approvals_required") is None:
                segment = {**segment, "approvals_required": default}
            elif isinstance(segment, Segment) and segment.approvals_required is None:
                segment = segment.model_copy(update={"approvals_required": default})
            segments[name] = segment
        return {**data, "segments": segments}

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> BrandConfig:
        if info.context and info.context.get(_SKIP_CROSS_CHECKS):
            return self  # parse_config ran them on the raw data, with line numbers
        problems = cross_field_problems(self.model_dump(), default_approvals=default_approvals)
        if problems:
            _fail("config", "; ".join(f"{dotted(path)}: {msg}" for path, msg in problems))
        return self

    def segment_names(self) -> list[str]:
        """Segment names in file order (the order follow rules are tried in)."""
        return list(self.segments)

    @property
    def alert_channel(self) -> str:
        """Where brand-disruption alerts go: `alerts.channel`, else the crisis segment's channel,
        else the default segment's."""
        if self.alerts.channel:
            return self.alerts.channel
        segment = self.segments.get(CRISIS_SEGMENT) or self.segments[self.routing.default_segment]
        return segment.channel

    def account(self, handle: str) -> Account:
        """The configured account with this handle (`@` optional, any case); KeyError if none."""
        wanted = handle.removeprefix("@").lower()
        for account in self.accounts:
            if account.handle.lower() == wanted:
                return account
        raise KeyError(f"no account @{wanted} in the config")

    def accounts_for(self, segment: str) -> list[Account]:
        """The accounts `segment` may post as: those it lists, or when it lists none, every
        account that no segment guards (listing an account guards it: naming none never
        bypasses another segment's guard)."""
        allowed = self.segments[segment].accounts
        if allowed is None:
            return [a for a in self.accounts if not self.guards_of(a.handle)]
        return [a for a in self.accounts if a.handle.lower() in allowed]

    def guards_of(self, handle: str) -> list[str]:
        """The segments that list this account under `accounts:` (file order)."""
        wanted = handle.removeprefix("@").lower()
        return [
            name
            for name, segment in self.segments.items()
            if segment.accounts is not None and wanted in segment.accounts
        ]


def default_approvals(segment_name: str) -> int:
    return CRISIS_APPROVALS if segment_name == CRISIS_SEGMENT else DEFAULT_APPROVALS
