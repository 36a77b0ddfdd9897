"""Bind-mount views of a directory with other mount flags (ro, nosymfollow).

The same technique as the artifact store's views (artifacts/store.py): a
bind mount, then a remount that sets the flags on the view alone, so the
source keeps its own. Views do not survive a reboot: `ensure` mounts again.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from shipway.errors import PlatformError


def ensure(source: Path, view: Path, flags: str) -> None:
    """Mount `source` at `view` with `flags` unless something is mounted there already."""
    view.mkdir(parents=True, exist_ok=True)
    if not is_mount(view):
        _run("mount", "--bind", str(source), str(view))
        _run("mount", "-o", f"remount,bind,{flags}", str(view))


def release(view: Path) -> None:
    while is_mount(view):
        _run("umount", "-l", str(view))


def is_mount(path: Path) -> bool:
    # Not os.path.ismount: a bind mount of a directory of the same file
    # system has the same st_dev as its parent, so ismount says no.
    target = str(path.resolve())
    with open("/proc/self/mountinfo") as f:
        return any(_unescape(line.split()[4]) == target for line in f)


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _run(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PlatformError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
