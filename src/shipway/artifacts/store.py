"""The artifact store (B7): frozen builds, one directory per build key.

An artifact is written once: the build's app directory is moved into
`<store>/<key>/` with a single rename, so a reader never sees half an
artifact, then handed to root and stripped of write bits. Apps only ever see
it through a read-only bind mount. Next to each artifact, `<key>.json` keeps
the inputs it was built from, so the next build can say why it differs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / key

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
        _seal(built)
        target = self.root / key
        if target.exists():  # a concurrent build of the same key won; keep its copy
            shutil.rmtree(built, ignore_errors=True)
        else:
            os.rename(built, target)
        (self.root / f"{key}.json").write_text(json.dumps(inputs, sort_keys=True))
        return target


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


def _seal(app: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(app):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            os.lchown(path, 0, 0)
            if not os.path.islink(path):
                # Readable by every app uid, writable by none.
                mode = os.lstat(path).st_mode & 0o555
                os.chmod(path, mode | (0o555 if name in dirnames else 0o444))
    os.chown(app, 0, 0)
    os.chmod(app, 0o555)
