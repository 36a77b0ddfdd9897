"""Which kind of pool to open, decided from observed facts (pure).

The first decision sticks: it is recorded in `storage/pool.json`, because
switching later would hide the data (a fresh loop image mounted over plain
directories, or plain directories where the data is inside an image). A
loop image that exists is in use even if the record was lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Requested = Literal["auto", "btrfs", "copy"]
Kind = Literal["host", "loop", "copy"]
REQUESTS = ("auto", "btrfs", "copy")


@dataclass(frozen=True)
class Facts:
    recorded: Kind | None       # from storage/pool.json
    image_exists: bool
    root_fstype: str | None     # the filesystem the pool's root directory is on
    kernel_btrfs: bool          # "btrfs" in /proc/filesystems
    progs: bool                 # mkfs.btrfs and btrfs on PATH


@dataclass(frozen=True)
class Choice:
    kind: Kind | None           # None: refuse, `reason` says why
    reason: str = ""


def choose(requested: Requested, facts: Facts) -> Choice:
    if facts.recorded is not None:
        return _keep(requested, facts.recorded)
    if facts.image_exists:
        return _keep(requested, "loop")
    if requested == "copy":
        return Choice("copy", "copy mode was requested")
    missing = _missing(facts)
    if facts.root_fstype == "btrfs" and not missing:
        return Choice("host")
    if missing and requested == "btrfs":
        return Choice(None, f"btrfs mode was requested but {missing}")
    if missing:
        return Choice("copy", missing)
    return Choice("loop")


def _keep(requested: Requested, kind: Kind) -> Choice:
    if requested == "auto" or (requested == "copy") == (kind == "copy"):
        return Choice(kind, "chosen when the pool was created")
    return Choice(None, f"{requested} mode was requested but this pool was created in "
                        f"{'copy' if kind == 'copy' else 'btrfs'} mode and holds data; "
                        "moving it is not supported")


def _missing(facts: Facts) -> str:
    if not facts.kernel_btrfs:
        return "the kernel has no btrfs support"
    if not facts.progs:
        return "btrfs-progs is not installed (apt-get install btrfs-progs)"
    return ""


@dataclass(frozen=True)
class Mount:
    point: Path
    fstype: str
    source: str


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 10:
            continue
        sep = fields.index("-")
        mounts.append(Mount(Path(_unescape(fields[4])), fields[sep + 1], _unescape(fields[sep + 2])))
    return mounts


def mount_of(path: Path, mounts: list[Mount]) -> Mount | None:
    """The mount `path` is on: the last one whose point is `path` or above it
    (a later mount on the same point hides an earlier one)."""
    best = None
    for m in mounts:
        if path == m.point or m.point in path.parents:
            if best is None or len(m.point.parts) >= len(best.point.parts):
                best = m
    return best


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field
