"""Symlinks under the roots the router serves (S2), found before the freeze.

The router reads artifacts through a `nosymfollow` view (store.py), so no
symlink there is ever followed, whatever its target: this check is for a
clear message, not the defence. A symlink under a location's root whose
target leaves that root would publish a host file (`static/db ->
$SHIPWAY_HOME/state/shipway.db`, `static/passwd -> /etc/passwd`): the push
is refused and names it. One that stays inside the root is kept, with a
warning that the router will not follow it. A location whose root is the
whole app (`root: ""`) is not checked: the app's own symlinks live there (a
virtualenv's bin/python -> /usr/bin/python3) and must keep working in the
sandbox, and the router still follows none of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Link:
    path: str  # relative to the app
    target: str
    escapes: bool


def served_links(app_dir: Path, roots: Iterable[str]) -> list[Link]:
    """Every symlink under the (app-relative) location `roots` of `app_dir`."""
    found: dict[str, Link] = {}
    app = os.path.realpath(app_dir)
    for root in sorted({r.strip("/") for r in roots}):
        if not root:
            continue
        top = os.path.join(app, root)
        linked = _linked_component(app, root)
        if linked is not None:
            found[linked] = Link(linked, os.readlink(os.path.join(app, linked)), escapes=True)
            continue
        for dirpath, dirnames, filenames in os.walk(top):  # never descends into a link
            for name in (*dirnames, *filenames):
                full = os.path.join(dirpath, name)
                if os.path.islink(full):
                    rel = os.path.relpath(full, app)
                    seen = found.get(rel)
                    escapes = _escapes(full, top) or (seen is not None and seen.escapes)
                    found[rel] = Link(rel, os.readlink(full), escapes)
    return sorted(found.values(), key=lambda link: link.path)


def _linked_component(app: str, root: str) -> str | None:
    """The first component of `root` that is a symlink (the whole root then leaves)."""
    names = root.split("/")
    for i in range(1, len(names) + 1):
        rel = "/".join(names[:i])
        if os.path.islink(os.path.join(app, rel)):
            return rel
    return None


def _escapes(link: str, root: str) -> bool:
    target = os.readlink(link)
    if os.path.isabs(target):
        return True  # the sandbox and the host read it differently: never inside
    # The kernel's resolution (links within, `..` after a link), not a lexical one.
    resolved = os.path.realpath(link)
    return os.path.commonpath([resolved, root]) != root
