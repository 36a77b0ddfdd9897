"""Where one build runs: its own disk (disk.py), memory cgroup (memory.py) and
pids cgroup (sandbox/pids.py), set up before the first step and always taken
down after the last, whatever happened; and the messages that name a limit
the build ran into (B6, S5)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shipway.build import memory
from shipway.build.disk import BuildDisk, close_disk, open_disk, save_cache
from shipway.errors import ShipwayError
from shipway.sandbox import beneath, pids

Log = Callable[[str], None]


class Host(Protocol):
    work_root: Path
    cache_root: Path
    uid: int
    disk_mb: int
    memory_mb: int
    pids_max: int
    home: Path


@dataclass
class BuildSpace:
    disk: BuildDisk
    cgroup: memory.MemoryCgroup | None
    uid: int
    pids: pids.PidsCgroup | None = None
    succeeded: bool = False

    def wrap(self, argv: list[str]) -> list[str]:
        argv = argv if self.cgroup is None else self.cgroup.wrap(argv)
        return argv if self.pids is None else self.pids.wrap(argv)

    def pids_hits(self) -> int:
        return 0 if self.pids is None else self.pids.hits()

    def kill_processes(self) -> None:
        """SIGKILL every process of the build now."""
        if self.pids is not None:
            self.pids.kill_all()

    def oom_kills(self) -> int:
        return 0 if self.cgroup is None else self.cgroup.oom_kills()

    def disk_full_message(self, what: str) -> str:
        return (f"the {what} failed: No space left on device. A build's app directory, cache "
                f"and /tmp share {self.disk.size_mb} MB; set SHIPWAY_BUILD_DISK (in MB) to raise "
                "the limit; nothing was deployed")

    def out_of_memory_message(self, what: str) -> str:
        assert self.cgroup is not None
        return (f"the {what} ran out of memory and was killed: a build's processes share "
                f"{self.cgroup.limit_mb} MB; set SHIPWAY_BUILD_MEMORY (in MB) to raise the limit; "
                "nothing was deployed")

    def too_many_processes_message(self, what: str) -> str:
        assert self.pids is not None
        return pids.limit_message("the build", self.pids.limit, pids.BUILD_SETTING,
                                  f" in the {what}") + "; nothing was deployed"


def cache_image(cache_root: Path, project_id: str) -> Path:
    return cache_root / f"{project_id}.img"


@contextmanager
def build_space(host: Host, project_id: str, name: str, log: Log) -> Iterator[BuildSpace]:
    """The disk and cgroup of one build; the cache is saved only if the
    caller sets `succeeded` (a failed build's cache writes are dropped)."""
    saved = cache_image(host.cache_root, project_id)
    disk = open_disk(host.work_root / name, saved, host.disk_mb, host.uid, log)
    group_name = pids.transient_name(host.home, "build")
    cgroup, why = memory.create(host.memory_mb, group_name)
    if cgroup is None:
        log(f"  W: memory limit not enforced: {why}")
    pids_group, why = pids.create(host.pids_max, group_name, "builds")
    if pids_group is None:
        log(f"  W: process limit not enforced: {why}")
    space = BuildSpace(disk, cgroup, host.uid, pids_group)
    try:
        _own_cache(disk.cache, host.uid)
        yield space
    finally:
        if pids_group is not None:  # first: a fork bomb stops growing at once
            pids_group.remove()
        if cgroup is not None:
            cgroup.kill_all()
            cgroup.remove()
        _close(space, saved, log)


def _close(space: BuildSpace, saved: Path, log: Log) -> None:
    if not space.succeeded:
        close_disk(space.disk)
        return
    try:
        save_cache(space.disk, saved)
    except (OSError, ShipwayError) as exc:  # the artifact is safe; only the cache is lost
        log(f"  W: could not keep the build cache: {exc}")
        close_disk(space.disk)


def _own_cache(cache: Path, uid: int) -> None:
    """A cache written under another build uid (SHIPWAY_UID_BASE changed)."""
    if cache.stat().st_uid == uid:
        return
    beneath.chown_tree(cache, uid, uid)
