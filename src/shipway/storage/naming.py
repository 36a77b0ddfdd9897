"""Volume and snapshot names, and where each lives in the pool (pure).

A volume name is a relative path such as `<project>/<env>`; a snapshot is
addressed as `<volume>@<snapshot>` (ZFS's spelling), or by its bare name
where the volume is implied. The pool's root holds three areas:

    vol/<volume>                 the volumes (subvolumes, or directories)
    snap/<volume>/<snap>/volume  read-only snapshots, `taken` beside each
    trash/                       work in progress and things being deleted

Directories above a volume are plain directories, never subvolumes: a btrfs
snapshot skips nested subvolumes, so a volume must hold everything below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shipway.errors import UsageError

# No leading dot: copy mode keeps `.<name>.volume` markers beside volumes.
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_DEPTH = 4


def check_name(name: str) -> str:
    """The volume name, or UsageError saying what is wrong with it."""
    parts = name.split("/")
    if not name or len(parts) > MAX_DEPTH or not all(_PART.match(p) for p in parts):
        raise UsageError(
            f"invalid volume name {name!r}: use 1 to {MAX_DEPTH} '/'-separated parts of letters, "
            "digits, '.', '_' or '-', each starting with a letter or digit")
    return name


def check_snapshot_name(name: str) -> str:
    if not _PART.match(name):
        raise UsageError(f"invalid snapshot name {name!r}: use letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def parse_ref(ref: str, default_volume: str | None = None) -> tuple[str, str]:
    """`volume@snap` → (volume, snap); a bare `snap` belongs to `default_volume`."""
    volume, at, snap = ref.rpartition("@")
    if not at:
        if default_volume is None:
            raise UsageError(f"snapshot {ref!r} names no volume: write it as <volume>@{ref}")
        volume = default_volume
    return check_name(volume), check_snapshot_name(snap)


def ancestors(name: str) -> list[str]:
    """`a/b/c` → [`a`, `a/b`]: the names that must not be volumes themselves."""
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def volumes(self) -> Path:
        return self.root / "vol"

    @property
    def snapshots(self) -> Path:
        return self.root / "snap"

    @property
    def trash(self) -> Path:
        return self.root / "trash"

    def volume(self, name: str) -> Path:
        return self.volumes / check_name(name)

    def snapshot_dir(self, name: str) -> Path:
        """The folder holding every snapshot of `name`."""
        return self.snapshots / check_name(name)

    def snapshot_entry(self, name: str, snap: str) -> Path:
        return self.snapshot_dir(name) / check_snapshot_name(snap)
