"""The artifact store (B7): frozen builds, one directory per build key.

An artifact is written once: the build's app directory is copied into a
staging directory of the store, every file a hard link to a content-addressed
object (objects.py), and the staging directory is renamed to the key, so a
reader never sees half an artifact and identical files are stored once. The
store is seen by everyone else (apps, the router, root's own tools) through
a read-only bind mount of itself (`view`), so an artifact cannot change after
its freeze, whoever asks — nor, through a shared inode, any other artifact:
the only writable path to the objects is root's, under a 0700 directory.
Inside it, files keep write bits for everybody: then the only thing refusing
a write is the read-only mount, and an app that tries gets EROFS, as on
Platform.sh, rather than a permission error. The router reads artifacts
through a second view (`served`), also mounted `nosymfollow` (Linux 5.10):
Caddy's file server follows symlinks and has no option not to, so there the
kernel refuses to follow any symlink an artifact holds (ELOOP), wherever it
points, while the apps' view keeps symlinks working (a virtualenv's
bin/python -> /usr/bin/python3 must run). Next to each artifact,
`<key>.json` keeps the inputs it was built from, so the next build can say
why it differs; it is written last and removed first, so `has` never
answers yes for a partial artifact.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from shipway import bindview
from shipway.artifacts.objects import Abort, Objects, copy_tree
from shipway.errors import BuildFailed, PlatformError, UserError
from shipway.sandbox import beneath

KEY = re.compile(r"[0-9a-f]{32}")
STAGING = ".staging-"


class ArtifactStore:
    def __init__(self, writable: Path, view: Path, served: Path | None = None) -> None:
        self.root = writable
        self.view = view
        self.served = served or view.with_name("served")
        writable.mkdir(parents=True, exist_ok=True)
        os.chmod(writable.parent, 0o700)
        view.mkdir(parents=True, exist_ok=True)
        self.served.mkdir(parents=True, exist_ok=True)
        self.objects = Objects(writable / "objects")

    def ensure_view(self) -> None:
        """Mount the read-only views of the store (again, after a reboot)."""
        bindview.ensure(self.root, self.view, "ro")
        bindview.ensure(self.root, self.served, "ro,nosymfollow")

    def release_view(self) -> None:
        for view in (self.view, self.served):
            bindview.release(view)  # views stacked by an older shipway, too

    def path(self, key: str) -> Path:
        return self.view / key

    def served_path(self, key: str) -> Path:
        """Artifact `key` as the router reads it: no symlink in it is followed (S2)."""
        return self.served / key

    def repoint_to_served(self, links: Iterable[Path]) -> None:
        """Links made by an older shipway into the apps' view: point them at the router's."""
        for link in links:
            if not link.is_symlink():
                continue
            target = Path(os.readlink(link))
            if target.parent == self.view:
                tmp = link.with_name(link.name + ".new")
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(self.served_path(target.name))
                os.replace(tmp, link)

    def has(self, key: str) -> bool:
        return (self.root / key).is_dir() and (self.root / f"{key}.json").is_file()

    def inputs(self, key: str) -> dict[str, Any] | None:
        meta = self.root / f"{key}.json"
        return json.loads(meta.read_text()) if meta.is_file() else None

    def freeze(
        self,
        built: Path,
        key: str,
        inputs: dict[str, Any],
        mount_points: Iterable[str],
        warn: Callable[[str], None],
        abort: Abort | None = None,
    ) -> Path:
        """Copy a finished build directory into the store as the read-only
        artifact `key`. `built` is left in place (it is usually on the build's
        own file system). `abort()` is called now and then and may raise."""
        for rel in mount_points:
            try:
                _make_mount_point(built, rel, warn)
            except ValueError as exc:
                raise UserError(f"mount '{rel}': {exc}") from None
            except beneath.PathEscape as exc:
                raise BuildFailed(f"mount '{rel}': the build left a symlink on its path ({exc})") from None
        target = self.root / key
        if not target.exists():  # else a concurrent build of the same key won
            staging = self.root / f"{STAGING}{key}-{uuid.uuid4().hex[:8]}"
            try:
                copy_tree(built, staging, self.objects, warn, abort)
                os.rename(staging, target)
            except OSError as exc:
                if not target.is_dir():
                    raise PlatformError(f"could not store the artifact: {exc}") from exc
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        _write_atomically(self.root / f"{key}.json", json.dumps(inputs, sort_keys=True))
        return self.path(key)

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json") if KEY.fullmatch(p.stem))

    def collect(self, keep: set[str], older_than: float, now: float | None = None) -> list[str]:
        """Remove artifacts not in `keep` frozen more than `older_than` seconds
        ago, then the objects no artifact uses; the removed keys."""
        cutoff = (time.time() if now is None else now) - older_than
        removed = []
        for key in self.keys():
            meta = self.root / f"{key}.json"
            if key not in keep and meta.stat().st_mtime < cutoff:
                meta.unlink()
                shutil.rmtree(self.root / key, ignore_errors=True)
                removed.append(key)
        self._collect_leftovers(cutoff)
        for obj in self.objects.orphans():
            obj.unlink(missing_ok=True)
        return removed

    def _collect_leftovers(self, cutoff: float) -> None:
        """Staging directories and object temp files of freezes that died."""
        stale = [*self.root.glob(f"{STAGING}*"), *self.objects.tmp.iterdir()]
        stale += [p for p in self.root.iterdir()
                  if KEY.fullmatch(p.name) and not p.with_suffix(".json").exists()]
        for path in stale:
            if path.lstat().st_mtime < cutoff:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


def _make_mount_point(app: Path, rel: str, warn: Callable[[str], None]) -> None:
    # bwrap cannot create a bind target inside a read-only tree, so every mount
    # path must already exist as an empty directory in the artifact. The build
    # wrote this tree: no symlink in it is followed (a `data -> /etc` would
    # have root make or remove `/etc/inner`).
    names = beneath.parts(rel)
    parent = beneath.make_dirs_fd(app, "/".join(names[:-1])) if len(names) > 1 else None
    dir_fd = parent if parent is not None else os.open(app, os.O_RDONLY | os.O_DIRECTORY)
    leaf = names[-1]
    try:
        try:
            st: os.stat_result | None = os.lstat(leaf, dir_fd=dir_fd)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            warn(f"W: mount '{rel}' shadows a file of the same name left by the build; removing it")
            os.unlink(leaf, dir_fd=dir_fd)
            st = None
        if st is None:
            os.mkdir(leaf, 0o755, dir_fd=dir_fd)
        else:
            with beneath.opened(app, rel) as fd:
                if os.listdir(fd):
                    warn(f"W: mount '{rel}' hides files the build left in that directory")
    finally:
        os.close(dir_fd)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(text)
    os.replace(tmp, path)
