"""Mounts the router serves (C6a): a location root that is, or holds, a mount.

On Platform.sh a location whose root is a mount (WordPress's
`wp-content/uploads`, Drupal's `sites/default/files`) serves what the app
wrote there. The artifact only holds an empty mount point, so the router
reads such a mount through a view of its own: a bind mount of the mount's
directory, read-only, `nosymfollow` (no symlink the app leaves there is
followed, whatever its target: S1/S2), `noexec`, made from an fd opened
beneath our base directory (openat2 RESOLVE_BENEATH), so an app that swapped
a path component for a symlink gets an error, not a view of something else.

The views of one app live in `served-mounts/<app digest>/`, a directory of
root's in the router's group with mode 0710: the router passes, no app (all
apps share one group, each its own uid) does. A view is named by the mount's
source kind and path, so a redeploy finds its view still mounted; the mount
directory itself is made group-readable (the router is in the apps' group,
and files the app writes with its umask 007 are too).

`served` and `view_paths` decide (pure); `ensure` acts.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from shipway import bindview
from shipway.config.model import AppConfig, Mount
from shipway.sandbox import beneath

VIEWS = "served-mounts"  # under SHIPWAY_HOME


def _inside(path: str, top: str) -> bool:
    return top == "" or path == top or path.startswith(top + "/")


def served(app: AppConfig) -> tuple[str, ...]:
    """The app's mounts (relative paths) that a location root is in or holds.

    `tmp` mounts are left out: they are emptied, made anew, at every start.
    """
    roots = [loc.root.strip("/") for loc in app.web.locations.values() if loc.root is not None]
    out = []
    for rel, mount in sorted(app.mounts.items()):
        if mount.source == "tmp":
            continue
        if any(_inside(root, rel) or _inside(rel, root) for root in roots):
            out.append(rel)
    return tuple(out)


def view_name(mount: Mount) -> str:
    key = f"{mount.source}:{mount.service or ''}:{mount.source_path}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def views_dir(home: Path, app_digest: str) -> Path:
    return home / VIEWS / app_digest


def view_paths(app: AppConfig, views: Path) -> dict[str, str]:
    """Mount rel → the host path the router reads it at."""
    return {rel: str(views / view_name(app.mounts[rel])) for rel in served(app)}


def ensure(views: Path, mounts: Mapping[str, tuple[Path, Mount]], router_gid: int) -> None:
    """Mount a view of each of `mounts` (rel → (base, mount)) under `views`."""
    top = views.parent
    top.mkdir(mode=0o711, exist_ok=True)
    os.chmod(top, 0o711)
    views.mkdir(exist_ok=True)
    os.chown(views, 0, router_gid)
    os.chmod(views, 0o710)
    for _rel, (base, mount) in sorted(mounts.items()):
        try:
            fd = beneath.opened_fd(base, mount.source_path)
        except (FileNotFoundError, beneath.PathEscape, ValueError):
            # Not made yet, or (a nested mount, the app's own directory) a
            # symlink the app left: nothing is served from it, never its target.
            continue
        try:
            mode = os.fstat(fd).st_mode
            os.fchmod(fd, (mode & 0o7777) | 0o050)  # group: read and search (the router)
            bindview.ensure_fd(fd, views / view_name(mount))
        finally:
            os.close(fd)


def release(views: Path) -> None:
    if views.is_dir():
        for view in views.iterdir():
            bindview.release(view)
