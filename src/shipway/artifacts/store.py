"""The artifact store (B7): frozen builds, one directory per build key.

An artifact is written once: the build's app directory is moved into the
store with a single rename, so a reader never sees half an artifact. The
store is seen by everyone else (apps, the router, root's own tools) through
a read-only bind mount of itself (`view`), so an artifact cannot change after
its freeze, whoever asks. Inside it, files keep write bits for everybody:
then the only thing refusing a write is the read-only mount, and an app that
tries gets EROFS, as on Platform.sh, rather than a permission error. Next to
each artifact, `<key>.json` keeps the inputs it was built from, so the next
build can say why it differs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from shipway.errors import PlatformError


class ArtifactStore:
    def __init__(self, writable: Path, view: Path) -> None:
        self.root = writable
        self.view = view
        writable.mkdir(parents=True, exist_ok=True)
        os.chmod(writable.parent, 0o700)
        view.mkdir(parents=True, exist_ok=True)

    def ensure_view(self) -> None:
        """Mount the read-only view of the store (again, after a reboot)."""
        if os.path.ismount(self.view):
            return
        _mount("--bind", str(self.root), str(self.view))
        _mount("-o", "remount,bind,ro", str(self.view))

    def release_view(self) -> None:
        if os.path.ismount(self.view):
            _mount_cmd("umount", "-l", str(self.view))

    def path(self, key: str) -> Path:
        return self.view / key

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
    ) -> Path:
        """Turn a finished build directory into the read-only artifact `key`."""
        for rel in mount_points:
            _make_mount_point(built, rel, warn)
        _open_modes(built)
        target = self.root / key
        if target.exists():  # a concurrent build of the same key won; keep its copy
            shutil.rmtree(built, ignore_errors=True)
        else:
            os.rename(built, target)
        (self.root / f"{key}.json").write_text(json.dumps(inputs, sort_keys=True))
        return self.path(key)


def _make_mount_point(app: Path, rel: str, warn: Callable[[str], None]) -> None:
    # bwrap cannot create a bind target inside a read-only tree, so every mount
    # path must already exist as an empty directory in the artifact.
    point = app / rel
    if point.is_symlink() or point.is_file():
        warn(f"W: mount '{rel}' shadows a file of the same name left by the build; removing it")
        point.unlink()
    elif point.is_dir() and any(point.iterdir()):
        warn(f"W: mount '{rel}' hides files the build left in that directory")
    point.mkdir(parents=True, exist_ok=True)


def _open_modes(app: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(app):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o777)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.lstat(path).st_mode & 0o777
                os.chmod(path, mode | 0o666 | (0o111 if mode & 0o111 else 0))
    os.chmod(app, 0o777)


def _mount(*args: str) -> None:
    _mount_cmd("mount", *args)


def _mount_cmd(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PlatformError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
