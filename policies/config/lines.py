"""Where in app.yaml a problem is: YAML source-line lookup, and turning duplicate keys and
pydantic's errors into `ConfigIssue`s that name the file, line and key."""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from policies.config.checks import KeyPath, _suggest, dotted
from policies.config.schema import BrandConfig, CreateRules, FollowRules, Segment

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


# ---------------------------------------------------------------------------------------------
# YAML node tree → source lines


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


def error_problem(error: Any) -> tuple[KeyPath, str]:
    """One pydantic error as (key path, message), in the words app.yaml's checks use."""
    loc: KeyPath = tuple(p for p in error["loc"] if isinstance(p, str | int))
    kind: str = error["type"]
    if kind == "missing":
        return loc, f"missing required key {loc[-1]!r}"
    if kind == "extra_forbidden":
        return loc, _unknown_key_message(loc[:-1], str(loc[-1]))
    if loc and loc[-1] == "[key]":  # a dict key, i.e. a segment name
        loc = loc[:-1]
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
    return loc, message


def _issue_from_error(error: Any, root: yaml.Node, filename: str) -> ConfigIssue:
    loc, message = error_problem(error)
    # A missing key is reported at the mapping that should hold it.
    line, _ = _locate(root, loc[:-1] if error["type"] == "missing" else loc)
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


def issue_at(text: str, filename: str, path: Sequence[str | int], message: str) -> ConfigIssue:
    """A ConfigIssue for a key of an already valid config (e.g. a channel Slack doesn't know)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    line = _locate(root, path)[0] if root is not None else 1
    return ConfigIssue(filename, line, dotted(path), message)
