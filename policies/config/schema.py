"""app.yaml: its schema, and validation that names the file, line and key of every problem.

`parse_config(text)` is the one way in. It composes the YAML node tree (so every value keeps
its line), builds plain data from it, validates that with the pydantic models below, runs the
checks that span several keys (routing names a real segment, account handles are unique, …)
and either returns a `BrandConfig` or raises one `ConfigError` listing *every* issue found,
each as ``app.yaml:12: segments.customer_relations.chanel: unknown key 'chanel' (did you mean
'channel'?)``.

Decisions worth knowing:

- Keys are paths as a user reads them: ``routing.rules[1].segment``. List indexes are 0-based
  like in yq/jq; ``routing.rules[0]`` is the first rule. Issues that are not about one key (YAML
  syntax, an empty file) have an empty key and render as ``app.yaml:3: message``.
- Lines are 1-based. A bad value points at its key's line (a list item at the item's line), an
  unknown key at itself, a missing key at the line of the mapping that should hold it.
- Values are normalised on the way in: hashtags to ``#lowercase``, author handles to lowercase
  without ``@``, languages to lowercase. An empty ``keywords:`` (YAML null) means ``[]``, and an
  empty ``follow:``/``create:`` means the defaults.
- ``approvals_required`` left out (or null) resolves to 2 for ``crisis_management`` and 1 for
  every other segment; a parsed `BrandConfig` always holds the resolved number.
- Slack IDs are checked for shape only (``C…``/``G…`` channels, ``U…``/``W…`` users, ``S…``
  user groups, upper-case letters, digits and ``_``); ``brandbot check --online`` checks that
  they exist.
- A segment's X search query (see `policies.search`) must fit X's 512-character limit: a
  longer one is a config error rather than being silently truncated.
- Models are frozen: derive a changed config with ``model_copy(update=...)`` (admin overrides),
  never by mutating one in place; `policies.routing` caches compiled rules per config object.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from policies import search

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

KeyPath = tuple[str | int, ...]

# ---------------------------------------------------------------------------------------------
# Issues and the error that carries them


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        if self.key:
            return f"{self.file}:{self.line}: {self.key}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    """One or more problems in a config file; `str()` is one line per issue."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


def dotted(path: Sequence[str | int]) -> str:
    """``("routing", "rules", 1, "segment")`` → ``routing.rules[1].segment``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


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
    return value


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
Domains = Annotated[list[Domain], BeforeValidator(_none_to_list)]


# ---------------------------------------------------------------------------------------------
# Models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Account(_Model):
    """An X account the team watches and posts as."""

    handle: Handle
    credentials_env: EnvPrefix
    max_posts_per_hour: Annotated[int, Field(ge=1, le=100)] = 6


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
        problems = cross_field_problems(self.model_dump())
        if problems:
            _fail("config", "; ".join(f"{dotted(path)}: {msg}" for path, msg in problems))
        return self

    def segment_names(self) -> list[str]:
        """Segment names in file order (the order follow rules are tried in)."""
        return list(self.segments)

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


# ---------------------------------------------------------------------------------------------
# Checks that span several keys. They run on plain data (before or without a valid model) so
# that one bad field elsewhere does not hide them; every access is guarded.


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_segment(name: str, names: Sequence[str]) -> str:
    suggestion = _suggest(name, names)
    return f"unknown segment {name!r}" + (suggestion or f"; segments: {', '.join(names)}")


def cross_field_problems(data: Any) -> list[tuple[KeyPath, str]]:
    """(path, message) for each cross-reference problem in config-shaped data."""
    problems: list[tuple[KeyPath, str]] = []
    if not isinstance(data, Mapping):
        return problems

    handles: dict[str, int] | None = None
    accounts = data.get("accounts")
    if isinstance(accounts, list):
        handles = {}
        envs: dict[str, int] = {}
        for i, account in enumerate(accounts):
            if not isinstance(account, Mapping):
                continue
            handle, env = account.get("handle"), account.get("credentials_env")
            if isinstance(handle, str):
                key = handle.removeprefix("@").lower()
                if key in handles:
                    problems.append(
                        (
                            ("accounts", i, "handle"),
                            f"duplicate account handle {handle!r} (same as accounts"
                            f"[{handles[key]}]; handles are not case-sensitive)",
                        )
                    )
                else:
                    handles[key] = i
            if isinstance(env, str):
                if env in envs:
                    problems.append(
                        (
                            ("accounts", i, "credentials_env"),
                            f"duplicate credentials_env {env!r} (same as accounts[{envs[env]}]); "
                            "each account needs its own credentials",
                        )
                    )
                else:
                    envs[env] = i

    segments = data.get("segments")
    names = [str(n) for n in segments] if isinstance(segments, Mapping) else None
    if isinstance(segments, Mapping):
        for name, segment in segments.items():
            if not isinstance(segment, Mapping):
                continue
            problems += _segment_problems(str(name), segment, handles)

    routing = data.get("routing")
    if isinstance(routing, Mapping) and names is not None:
        default = routing.get("default_segment")
        if isinstance(default, str) and default not in names:
            problems.append(
                (
                    ("routing", "default_segment"),
                    _unknown_segment(default, names),
                )
            )
        rules = routing.get("rules")
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            target = rule.get("segment") if isinstance(rule, Mapping) else None
            if isinstance(target, str) and target not in names:
                problems.append(
                    (
                        ("routing", "rules", i, "segment"),
                        _unknown_segment(target, names),
                    )
                )
    return problems


def _segment_problems(
    name: str, segment: Mapping[str, Any], handles: dict[str, int] | None
) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    refs = segment.get("accounts")
    if handles is not None and isinstance(refs, list):
        for j, ref in enumerate(refs):
            if isinstance(ref, str) and ref.strip().removeprefix("@").lower() not in handles:
                bare = ref.strip().removeprefix("@")
                known = ", ".join(sorted(handles)) or "none"
                problems.append(
                    (
                        ("segments", name, "accounts", j),
                        f"unknown account {ref!r}{_suggest(bare.lower(), list(handles))}; "
                        f"configured accounts: {known}",
                    )
                )

    # Approvals that can never be met: only decidable when every approver is one person.
    approvers = segment.get("approvers")
    explicit = segment.get("approvals_required")
    required = explicit if explicit is not None else default_approvals(name)
    if (
        isinstance(required, int)
        and isinstance(approvers, list)
        and approvers
        and all(isinstance(a, str) and a[:1] in ("U", "W") for a in approvers)
        and required > len(set(approvers))
    ):
        why = "" if explicit is not None else f" (the default for {name})"
        problems.append(
            (
                ("segments", name, "approvals_required")
                if explicit is not None
                else ("segments", name),
                f"needs {required} approvals{why} but lists only {len(set(approvers))} "
                "approver(s); add approvers or a user group",
            )
        )
    return problems


# ---------------------------------------------------------------------------------------------
# YAML → data, keeping the node tree for line numbers


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _locate(root: yaml.Node, path: Sequence[str | int]) -> tuple[int, bool]:
    """Line for `path`: its key's line (a list item's own line). Also: was all of it found?"""
    node, line = root, _line(root)
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):  # the last duplicate is the one kept
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    node, line = value, _line(key)
                    break
            else:
                return line, False
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return line, False
            node = node.value[part]
            line = _line(node)
        else:
            return line, False
    return line, True


def _duplicate_keys(node: yaml.Node, path: KeyPath = ()) -> list[tuple[KeyPath, int, str]]:
    found: list[tuple[KeyPath, int, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None and name != "<<":
                if name in seen:
                    found.append(
                        (
                            (*path, name),
                            _line(key),
                            f"duplicate key {name!r} (first on line {seen[name]}; "
                            "only one may be given)",
                        )
                    )
                else:
                    seen[name] = _line(key)
            found += _duplicate_keys(value, (*path, name if name is not None else "?"))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, (*path, i))
    return found


# ---------------------------------------------------------------------------------------------
# pydantic errors → issues


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            arms = [a for a in get_args(tp) if a is not type(None)]
            if len(arms) != 1:
                return tp
            tp = arms[0]
        else:
            return tp


def _model_at(path: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path`, if it is one."""
    tp: Any = BrandConfig
    for part in path:
        tp = _unwrap(tp)
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif origin is list:
            tp = get_args(tp)[0]
        elif origin is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unknown_key_message(parent: Sequence[str | int], key: str) -> str:
    model = _model_at(parent)
    message = f"unknown key {key!r}"
    if model is None:
        return message
    allowed = list(model.model_fields)
    suggestion = _suggest(key, allowed)
    if suggestion:
        return message + suggestion
    if model is Segment:
        for home, home_model in (("follow", FollowRules), ("create", CreateRules)):
            if key in home_model.model_fields:
                return f"{message} (it belongs under '{home}:')"
    return f"{message}; allowed keys: {', '.join(allowed)}"


def _kind(value: Any) -> str:
    """How a YAML value looks to the person who wrote it."""
    if isinstance(value, list):
        return f"a list {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "empty"
    return f"the single value {value!r}"


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _issue_from_error(error: Any, root: yaml.Node, filename: str) -> ConfigIssue:
    loc: KeyPath = tuple(p for p in error["loc"] if isinstance(p, str | int))
    kind: str = error["type"]
    if kind == "missing":
        line, _ = _locate(root, loc[:-1])
        return ConfigIssue(filename, line, dotted(loc), f"missing required key {loc[-1]!r}")
    if kind == "extra_forbidden":
        line, _ = _locate(root, loc)
        message = _unknown_key_message(loc[:-1], str(loc[-1]))
        return ConfigIssue(filename, line, dotted(loc), message)
    if loc and loc[-1] == "[key]":  # a dict key, i.e. a segment name
        loc = loc[:-1]
    line, _ = _locate(root, loc)
    value = error.get("input")
    if kind.startswith("list_type") and isinstance(value, str):
        message = f"must be a list like [{value!r}], not a single value"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        message = f"must be a mapping of keys to values, not {_kind(value)}"
    elif error.get("ctx", {}).get("detail") is not None:
        message = str(error["msg"])  # one of ours, already written for the user
    else:
        message = str(error["msg"])
        if _scalar(value):
            message += f" (got {value!r})"
    return ConfigIssue(filename, line, dotted(loc), message)


def _issues_from_validation(
    exc: ValidationError, root: yaml.Node, filename: str
) -> list[ConfigIssue]:
    errors = exc.errors(include_url=False)
    # A misspelt key shows up twice: unknown 'chanel' and missing 'channel'. Report it once.
    misspelt: set[KeyPath] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            model = _model_at(loc[:-1])
            if model is not None:
                close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
                misspelt.update((*loc[:-1], name) for name in close)
    return [
        _issue_from_error(error, root, filename)
        for error in errors
        if not (error["type"] == "missing" and tuple(error["loc"]) in misspelt)
    ]


# ---------------------------------------------------------------------------------------------
# The entry point


def parse_config(text: str, filename: str = "app.yaml") -> BrandConfig:
    """Parse and validate app.yaml text; raise ConfigError listing every issue."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.problem and exc.context else ""
        column = f" at column {mark.column + 1}" if mark is not None else ""
        message = f"YAML syntax error: {what}{context}{column}"
        raise ConfigError([ConfigIssue(filename, line, "", message)]) from None
    except yaml.YAMLError as exc:  # e.g. a reader error (bad bytes), which has no mark here
        raise ConfigError([ConfigIssue(filename, 1, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()

    if root is None:
        raise ConfigError([ConfigIssue(filename, 1, "", "the file is empty; see app.yaml")])
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        message = (
            f"the top level must be a mapping of keys (brand:, accounts:, …), not {_kind(data)}"
        )
        raise ConfigError([ConfigIssue(filename, _line(root), "", message)])

    issues = [
        ConfigIssue(filename, line, dotted(path), message)
        for path, line, message in _duplicate_keys(root)
    ]
    config: BrandConfig | None = None
    try:
        config = BrandConfig.model_validate(data, context={_SKIP_CROSS_CHECKS: True})
    except ValidationError as exc:
        issues += _issues_from_validation(exc, root, filename)
    for path, message in cross_field_problems(data):
        issues.append(ConfigIssue(filename, _locate(root, path)[0], dotted(path), message))

    if config is not None:
        for name, query in search.segment_search_queries(config).items():
            if len(query) > search.X_QUERY_MAX_CHARS:
                path = ("segments", name, "follow")
                issues.append(
                    ConfigIssue(
                        filename,
                        _locate(root, path)[0],
                        dotted(path),
                        f"its X search query is {len(query)} characters, over X's "
                        f"{search.X_QUERY_MAX_CHARS}-character limit; follow fewer keywords, "
                        "hashtags or authors (or split them across segments)",
                    )
                )

    if issues or config is None:
        raise ConfigError(sorted(set(issues), key=lambda i: (i.line, i.key, i.message)))
    return config


def issue_at(text: str, filename: str, path: Sequence[str | int], message: str) -> ConfigIssue:
    """A ConfigIssue for a key of an already valid config (e.g. a channel Slack doesn't know)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    line = _locate(root, path)[0] if root is not None else 1
    return ConfigIssue(filename, line, dotted(path), message)
