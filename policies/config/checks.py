"""Cross-field checks of app.yaml: routing names a real segment, account handles are unique,
a segment's approvals can be met, …

They run on plain config-shaped data, before or without a valid model, so that one bad field
does not hide them; each problem is a key path and a message. Nothing here imports the schema,
so `BrandConfig`'s own validator can run them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

KeyPath = tuple[str | int, ...]


def dotted(path: Sequence[str | int]) -> str:
    """``("routing", "rules", 1, "segment")`` → ``routing.rules[1].segment``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_segment(name: str, names: Sequence[str]) -> str:
    suggestion = _suggest(name, names)
    return f"unknown segment {name!r}" + (suggestion or f"; segments: {', '.join(names)}")


def cross_field_problems(
    data: Any, *, default_approvals: Callable[[str], int]
) -> list[tuple[KeyPath, str]]:
    """(path, message) for each cross-reference problem in config-shaped data.

    `default_approvals` is the schema's rule for a segment that leaves `approvals_required` out.
    """
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
            problems += _segment_problems(str(name), segment, handles, default_approvals)

    routing = data.get("routing")
    if isinstance(routing, Mapping) and names is not None:
        default = routing.get("default_segment")
        if isinstance(default, str) and default not in names:
            problems.append(
                (
                    ("routing", "default_segment"),
                    unknown_segment(default, names),
                )
            )
        rules = routing.get("rules")
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            target = rule.get("segment") if isinstance(rule, Mapping) else None
            if isinstance(target, str) and target not in names:
                problems.append(
                    (
                        ("routing", "rules", i, "segment"),
                        unknown_segment(target, names),
                    )
                )
    return problems


def _segment_problems(
    name: str,
    segment: Mapping[str, Any],
    handles: dict[str, int] | None,
    default_approvals: Callable[[str], int],
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
