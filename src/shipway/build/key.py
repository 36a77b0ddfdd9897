"""The build key (B2): what an artifact is reused by. Pure.

The key covers the app's source tree id, its build-relevant configuration
(what Platform.sh puts in the build-time PLATFORM_APPLICATION) and the
variables visible at build time. Runtime-only settings never enter it, so
changing routes, relationships, deploy hooks or runtime variables reuses the
build.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Bump when the way shipway builds changes, so old artifacts are not reused.
BUILD_FORMAT = 1


@dataclass(frozen=True)
class BuildInputs:
    app: str
    tree_id: str
    config: Mapping[str, Any]
    build_variables: Mapping[str, str]

    @property
    def key(self) -> str:
        payload = {
            "format": BUILD_FORMAT,
            "app": self.app,
            "tree": self.tree_id,
            "config": self.config,
            "variables": dict(sorted(self.build_variables.items())),
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def as_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "tree": self.tree_id,
            "config": self.config,
            "variables": sorted(self.build_variables),
            "variable_digests": {
                k: hashlib.sha256(str(v).encode()).hexdigest()[:12]
                for k, v in self.build_variables.items()
            },
        }


def rebuild_reasons(previous: Mapping[str, Any] | None, current: BuildInputs) -> list[str]:
    """Say in words why `current` was not reused, given the last build of the app."""
    if previous is None:
        return ["first build of this app"]
    reasons = []
    if previous.get("tree") != current.tree_id:
        reasons.append("source tree changed")
    old_cfg, new_cfg = previous.get("config", {}), dict(current.config)
    for name in sorted(set(_flatten(old_cfg)) | set(_flatten(new_cfg))):
        if _flatten(old_cfg).get(name) != _flatten(new_cfg).get(name):
            reasons.append(f"{name} changed")
    old_vars = previous.get("variable_digests", {})
    new_vars = current.as_json()["variable_digests"]
    for name in sorted(set(old_vars) | set(new_vars)):
        if old_vars.get(name) != new_vars.get(name):
            reasons.append(f"variable {name} changed")
    return reasons or ["build format changed"]


def _flatten(cfg: Mapping[str, Any], prefix: str = "", depth: int = 2) -> dict[str, str]:
    """Top config keys as dotted names (two levels: `hooks.build`), values as JSON."""
    out: dict[str, str] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth > 1 and value:
            out.update(_flatten(value, name + ".", depth - 1))
        else:
            out[name] = json.dumps(value, sort_keys=True, default=str)
    return out
