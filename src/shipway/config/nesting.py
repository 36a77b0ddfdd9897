"""The one rule for a mount nested inside another mount (S1).

A mount is bound at /app/<key>. For a key inside another mount's key, the
destination lies in a tree the app writes: root's bwrap resolves it inside
the sandbox at the next start, following any symlink the app left there
(`data/sub` -> `../../usr` turns `data/sub/bin` into the sandbox's
/usr/bin, and root then execs the app's own setpriv). So a nested mount is
never bound: it is allowed only where it names the very directory the
outer mount already shows there (same source, same service, and
`source_path` the outer's plus the same suffix), and then it needs no bind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Where(NamedTuple):
    """What a mount shows: its source kind, service and path in that source."""

    source: str
    service: str | None
    source_path: str


def outer_of(key: str, keys: Mapping[str, object] | set[str]) -> str | None:
    """The outermost other mount key that `key` lies inside, or None."""
    outers = [other for other in keys if key.startswith(other + "/")]
    return min(outers, key=len) if outers else None


def nested_problem(key: str, inner: Where, outer_key: str, outer: Where) -> str | None:
    """Why mount `key` cannot be nested in mount `outer_key`, or None when it
    is the same directory the outer mount already shows (then: no bind)."""
    suffix = key[len(outer_key) + 1:]
    expected = f"{outer.source_path}/{suffix}" if outer.source_path else suffix
    if inner.source != outer.source:
        return (f"cannot be nested in mount '{outer_key}' of another source "
                f"({inner.source} inside {outer.source})")
    if inner.service != outer.service or inner.source_path != expected:
        return (f"cannot be nested in mount '{outer_key}' unless it is the same directory: "
                f"source_path must be '{expected}' (the app writes inside '{outer_key}', "
                "so nothing else is bound there); or move it out of that mount")
    return None
