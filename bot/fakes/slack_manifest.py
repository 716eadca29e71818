"""Slack's published app-manifest JSON schema (slackapi/manifest-schema, MIT; a copy lives in
`slack_api_spec/manifest-schema/`), for checking that what `brandbot manifest` prints is a manifest
Slack accepts. The root schema picks a version by `_metadata.major_version` and refers to each
version by its GitHub URL; those URLs resolve to the local copies, so nothing is fetched."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).with_name("slack_api_spec") / "manifest-schema"
_REMOTE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def _load(name: str) -> Any:
    return json.loads((SCHEMAS / name).read_text())


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    registry: Registry[Any] = Registry().with_resources(
        (_REMOTE + name, Resource.from_contents(_load(name)))
        for name in ("manifest.schema.1.0.0.json", "manifest.schema.2.0.0.json")
    )
    return Draft7Validator(_load("manifest.schema.json"), registry=registry)


def manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """Every way the manifest breaks Slack's schema, as `path: message` (empty when valid)."""
    validator = _validator()
    problems = []
    for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path)):
        # A oneOf over versions reports "not valid under any": say which branch failed and why.
        causes = error.context or [error]
        for cause in causes:
            path = "/".join(str(p) for p in cause.absolute_path) or "(root)"
            problems.append(f"{path}: {cause.message}")
    return problems
