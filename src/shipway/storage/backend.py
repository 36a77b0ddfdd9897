"""What the pool needs from a storage method: btrfs (btrfs.py) or plain
copies (copying.py). Volumes and snapshots are trees a backend makes, copies,
moves into place and removes; the pool (volumes.py) decides where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Usage:
    """From btrfs quota groups. With full quotas `referenced` is every byte
    the volume sees and `exclusive` what only it holds (what deleting it
    frees); with simple quotas both are the bytes it wrote itself."""

    referenced: int
    exclusive: int
    limit: int | None        # the limit on exclusive use, in bytes


class Backend(Protocol):
    @property
    def atomic(self) -> bool:
        """True when `copy` is point-in-time even while the source is written."""
        ...

    def is_volume(self, path: Path) -> bool: ...

    def make(self, path: Path) -> None: ...

    def copy(self, src: Path, dst: Path, *, readonly: bool) -> None:
        """A new tree at `dst` (which must not exist) with `src`'s content."""
        ...

    def place(self, staging: Path, dst: Path) -> None:
        """Make a finished copy at `staging` the volume `dst`."""
        ...

    def evict(self, path: Path, to: Path) -> None:
        """Move the volume at `path` out of the way, to `to`."""
        ...

    def remove(self, path: Path) -> None: ...

    def get_limit(self, path: Path) -> int | None: ...

    def limit(self, path: Path, size_bytes: int | None) -> str | None:
        """Set (None: lift) the size limit; a warning if it cannot be enforced."""
        ...

    def usage(self, path: Path) -> Usage | None: ...

    def flush(self) -> None:
        """Write data held in memory to disk."""
        ...

    def settle(self) -> None:
        """Wait for space freed by deletions to be free."""
        ...
