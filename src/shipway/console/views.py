"""Pure shaping of API answers into what the pages draw (W2): no I/O here.

`tree` orders environments parent before children with their depth;
`timeline` turns a deploy's recorded phases into bar widths; `safe_next`
keeps a `next=` redirect inside the console (no open redirect)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PREFIX = "/console/"


@dataclass(frozen=True)
class Row:
    env: dict[str, Any]
    depth: int
    last_activity: dict[str, Any] | None


def tree(envs: list[dict[str, Any]], activities: list[dict[str, Any]]) -> list[Row]:
    """Depth-first, children sorted by name; an environment whose parent is not shown is a root."""
    names = {e["name"] for e in envs}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for env in envs:
        parent = env.get("parent") if env.get("parent") in names else None
        children.setdefault(parent, []).append(env)
    latest: dict[str, dict[str, Any]] = {}
    for activity in activities:  # newest first, as the API lists them
        latest.setdefault(activity.get("environment") or "", activity)
    rows: list[Row] = []
    stack = [(e, 0) for e in sorted(children.get(None, []), key=_name, reverse=True)]
    while stack:
        env, depth = stack.pop()
        rows.append(Row(env, depth, latest.get(env["name"])))
        kids = sorted(children.get(env["name"], []), key=_name, reverse=True)
        stack.extend((kid, depth + 1) for kid in kids)
    return rows


def _name(env: dict[str, Any]) -> str:
    return str(env["name"])


@dataclass(frozen=True)
class Bar:
    phase: str
    seconds: float
    percent: float  # of the longest phase, so the longest bar fills the row


def timeline(details: dict[str, Any]) -> list[Bar]:
    phases = [p for p in details.get("timeline") or [] if isinstance(p, dict)]
    longest = max((float(p.get("seconds") or 0) for p in phases), default=0.0)
    return [Bar(str(p.get("phase")), float(p.get("seconds") or 0),
                round(100 * float(p.get("seconds") or 0) / longest, 1) if longest else 0.0)
            for p in phases]


def safe_next(value: str | None) -> str:
    """A path inside the console, else the console's front page.

    Refused: absolute URLs, scheme-relative `//host`, backslashes (browsers read
    `/\\host` as `//host`), control characters and anything outside /console/."""
    if not value or not value.startswith(PREFIX) or "\\" in value or "//" in value:
        return PREFIX
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value) or ":" in value.split("?")[0]:
        return PREFIX
    return value


ENV_ACTIONS = ("activate", "deactivate", "merge", "synchronize", "redeploy")
# The role-table action each console button needs (access/roles.py names).
NEEDS = {"activate": "activate", "deactivate": "deactivate", "merge": "merge",
         "synchronize": "sync", "redeploy": "redeploy", "branch": "branch", "rollback": "rollback",
         "variables": "variables"}


def buttons(env: dict[str, Any], allowed: set[str]) -> list[str]:
    """The actions to offer on one environment: allowed by the role and meaningful now."""
    active = env.get("status") == "active"
    offered = []
    for action in ENV_ACTIONS:
        if NEEDS[action] not in allowed:
            continue
        if (action == "activate" and active) or (action == "deactivate" and not active):
            continue
        if action in ("merge", "synchronize") and not env.get("parent"):
            continue
        if action in ("redeploy", "synchronize", "merge") and not active:
            continue
        offered.append(action)
    return offered
