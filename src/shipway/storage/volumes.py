"""The pool: named volumes, their clones and snapshots (layout: naming.py).

Theory of operation. Every new tree (a clone, a restored copy) is built in
`trash/` first and then moved into place by one rename, so a volume's path
never shows a half-made copy; things to delete are moved to `trash/` first,
so they vanish at once and a crash leaves only trash, which the next
`open_pool` empties. A snapshot is complete once its `taken` file exists;
an incomplete one is invisible and removed by `prune` or `delete`.

Consistency is the caller's part: with btrfs (`atomic_snapshots`) a copy is
point-in-time, crash-consistent even while databases write to the source;
in copy mode the caller must stop everything writing to the source first.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from shipway.errors import NotFound, UsageError
from shipway.storage import loop
from shipway.storage.backend import Backend, Usage
from shipway.storage.exchange import exchange
from shipway.storage.naming import Layout, ancestors, check_name, parse_ref

MB = 1 << 20


class VolumeExists(UsageError):
    """The volume or snapshot to be made is already there."""


@dataclass(frozen=True)
class Snapshot:
    volume: str
    name: str
    path: Path
    taken: float

    @property
    def ref(self) -> str:
        return f"{self.volume}@{self.name}"


@dataclass
class Pool:
    root: Path
    backend: Backend
    mode: str                   # "btrfs" or "copy"
    method: str                 # for logs: "btrfs (loop image …)", "btrfs (host filesystem, …)", "copy (…)"
    mounted: bool = False       # shipway loop-mounted an image at `root`
    warnings: list[str] = field(default_factory=list)

    @property
    def layout(self) -> Layout:
        return Layout(self.root)

    @property
    def atomic_snapshots(self) -> bool:
        return self.backend.atomic

    def path(self, name: str) -> Path:
        return self.layout.volume(name)

    def exists(self, name: str) -> bool:
        return self.backend.is_volume(self.path(name))

    def create(self, name: str) -> Path:
        dst = self._free(name)
        self.backend.make(dst)
        return dst

    def clone(self, src: str, dst: str) -> Path:
        """A writable copy of `src` as the new volume `dst`."""
        return self._build(self._existing(src), dst)

    def snapshot(self, src: str, snap: str) -> Path:
        """A read-only copy of `src`, kept until pruned; its path."""
        source = self._existing(src)
        entry = self.layout.snapshot_entry(src, snap)
        if (entry / "taken").is_file():
            raise VolumeExists(f"snapshot {src}@{snap} already exists")
        if entry.exists():
            self._discard(entry)  # left incomplete by a crash
        entry.mkdir(parents=True)
        try:
            self.backend.copy(source, entry / "volume", readonly=True)
        except BaseException:
            self._discard(entry)
            raise
        _write_atomically(entry / "taken", str(time.time_ns()))
        return entry / "volume"

    def snapshots(self, src: str) -> list[Snapshot]:
        """The complete snapshots of `src`, oldest first."""
        found = [s for e in self._entries(src) if (s := _read_entry(src, e)) is not None]
        return sorted(found, key=lambda s: (s.taken, s.name))

    def restore(self, ref: str, dst: str) -> Path:
        """Give `dst` the content of snapshot `ref` (`volume@snap`, or a bare
        snapshot name of `dst`). Stop what uses `dst` first: its processes
        would keep the old files open. `dst`'s size limit is kept. The old
        content is deleted before this returns, which took up to 3 s after
        heavy writes (the kernel drops its cached pages)."""
        volume, snap = parse_ref(ref, dst)
        entry = self.layout.snapshot_entry(volume, snap)
        if not (entry / "taken").is_file():
            raise NotFound(f"no snapshot {volume}@{snap}")
        if not self.exists(dst):
            return self._build(entry / "volume", dst)
        target = self.path(dst)
        staging = self._staging()
        try:
            self.backend.copy(entry / "volume", staging, readonly=False)
            self._carry_limit(target, staging)
            old = self._swap(staging, target)
        except BaseException:
            self._purge(staging)
            raise
        self._purge(old)
        return target

    def delete_snapshot(self, ref: str) -> None:
        volume, snap = parse_ref(ref)
        entry = self.layout.snapshot_entry(volume, snap)
        if not entry.exists():
            raise NotFound(f"no snapshot {volume}@{snap}")
        self._discard(entry)

    def prune(self, src: str, keep: int) -> list[str]:
        """Delete all but the `keep` newest snapshots of `src` (and any left
        incomplete); the names of the deleted ones."""
        if keep < 0:
            raise UsageError(f"cannot keep {keep} snapshots")
        complete = self.snapshots(src)
        kept = {s.name for s in complete[len(complete) - keep:]} if keep > 0 else set()
        doomed = [e for e in self._entries(src) if e.name not in kept]
        for entry in doomed:
            self._discard(entry)
        return sorted(e.name for e in doomed)

    def delete(self, name: str) -> bool:
        """Delete the volume and all its snapshots; False if there was no volume."""
        for entry in self._entries(name):
            self._discard(entry)
        _remove_empty_dirs(self.layout.snapshot_dir(name), self.layout.snapshots)
        if not self.exists(name):
            return False
        target = self.path(name)
        moved = self._staging()
        self.backend.evict(target, moved)
        self._purge(moved)
        _remove_empty_dirs(target.parent, self.layout.volumes)
        return True

    def limit(self, name: str, size_mb: int | None) -> str | None:
        """Limit what the volume may add beyond the blocks it shares with its
        parent and snapshots (None lifts it): a fresh clone starts near zero
        (quota.py says why). A warning when the pool cannot enforce limits."""
        size = None if size_mb is None else size_mb * MB
        return self.backend.limit(self._existing(name), size)

    def usage(self, name: str) -> Usage | None:
        """Bytes held and limit, where cheap to know (btrfs with quotas)."""
        return self.backend.usage(self._existing(name))

    def flush(self) -> None:
        """Write what the pool holds in memory to disk. A btrfs snapshot
        waits for its source's unwritten data (0.25 s per 64 MB seen here),
        so call this just before a deploy's hold and the pre-deploy snapshot
        inside the hold only waits for what was written since."""
        self.backend.flush()

    def settle(self) -> None:
        """Wait until deleted volumes' space is free again: btrfs frees it in
        the background, seconds to minutes later, and only then can the host
        get the blocks back (a loop image's holes are punched here too)."""
        self.backend.settle()
        if self.mounted:
            loop.trim(self.root)

    def sweep(self) -> None:
        """Empty `trash/`: what a crash left mid-copy or mid-delete."""
        for leftover in self.layout.trash.iterdir():
            self._purge(leftover)

    def unmount(self) -> None:
        if self.mounted:
            loop.unmount(self.root)
            self.mounted = False

    def _existing(self, name: str) -> Path:
        if not self.exists(name):
            raise NotFound(f"no volume {name} in the data pool at {self.root}")
        return self.path(name)

    def _free(self, name: str) -> Path:
        """The path for a new volume `name`, its parent folders made."""
        for above in ancestors(check_name(name)):
            if self.exists(above):
                raise UsageError(f"cannot make volume {name} inside volume {above}: "
                                 "a snapshot of the outer one would not include it")
        dst = self.path(name)
        if self.exists(name):
            raise VolumeExists(f"volume {name} already exists")
        if dst.exists() and not _remove_if_empty(dst):
            raise VolumeExists(f"cannot make volume {name}: {dst} holds other volumes")
        dst.parent.mkdir(parents=True, exist_ok=True)
        return dst

    def _build(self, source: Path, name: str) -> Path:
        dst = self._free(name)
        staging = self._staging()
        try:
            self.backend.copy(source, staging, readonly=False)
            self.backend.place(staging, dst)
        except BaseException:
            self._purge(staging)
            raise
        return dst

    def _swap(self, staging: Path, target: Path) -> Path:
        """Put `staging` at `target`; where the old content went."""
        if exchange(staging, target):
            return staging
        old = self._staging()
        self.backend.evict(target, old)
        self.backend.place(staging, target)
        return old

    def _carry_limit(self, old: Path, new: Path) -> None:
        size = self.backend.get_limit(old)
        if size is not None:
            self.backend.limit(new, size)

    def _entries(self, src: str) -> list[Path]:
        folder = self.layout.snapshot_dir(src)
        return [e for e in folder.iterdir() if e.is_dir()] if folder.is_dir() else []

    def _discard(self, path: Path) -> None:
        moved = self._staging()
        os.rename(path, moved)
        self._purge(moved)

    def _purge(self, path: Path) -> None:
        if not (path.exists() or path.is_symlink()):
            return
        if not self.backend.is_volume(path) and (path / "volume").exists():
            self.backend.remove(path / "volume")  # a snapshot's folder: its read-only tree first
        self.backend.remove(path)

    def _staging(self) -> Path:
        return self.layout.trash / uuid.uuid4().hex


def _read_entry(volume: str, entry: Path) -> Snapshot | None:
    try:
        taken = int((entry / "taken").read_text()) / 1e9
    except (FileNotFoundError, ValueError):
        return None
    return Snapshot(volume, entry.name, entry / "volume", taken)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _remove_if_empty(path: Path) -> bool:
    try:
        path.rmdir()
    except OSError:
        return False
    return True


def _remove_empty_dirs(path: Path, stop: Path) -> None:
    while path != stop and stop in path.parents and _remove_if_empty(path):
        path = path.parent
