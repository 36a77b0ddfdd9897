"""The memory limit of a build's processes (B6): a cgroup of their own.

Theory of operation. Each build gets a fresh cgroup with a memory limit
(cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes` on hosts that still
mount the v1 memory controller, as Debian hosts with a hybrid layout do).
Every sandboxed process of the build is started inside it: a tiny dash
prologue writes its own pid into `cgroup.procs` and then execs bwrap, so
the process and all its children are in the cgroup from their first byte.
When the kernel kills a process for the limit it counts an `oom_kill`, which
is how the build tells a memory failure from an ordinary one. Where no
memory controller can be used, `create` says why, and the build says so in
its log: the limit is never pretended.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from shipway.sandbox import cgroupfs

MB = 1 << 20


@dataclass(frozen=True)
class MemoryCgroup:
    path: Path
    version: int
    limit_mb: int

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv`, started inside this cgroup."""
        return cgroupfs.entering(self.path, argv)

    def oom_kills(self) -> int:
        """How many processes the kernel has killed for the limit so far."""
        events = "memory.events" if self.version == 2 else "memory.oom_control"
        for line in _read(self.path / events).splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def kill_all(self) -> None:
        """SIGKILL whatever is still inside (nothing should be)."""
        if (self.path / "cgroup.kill").exists():
            _write(self.path / "cgroup.kill", "1")
            return
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def pids(self) -> list[int]:
        return cgroupfs.members(self.path)

    def remove(self, timeout: float = 2.0) -> None:
        # A dying pid namespace leaves the cgroup a few ms after bwrap exits.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                self.kill_all()
                time.sleep(0.02)


def create(limit_mb: int, name: str | None = None) -> tuple[MemoryCgroup | None, str]:
    """A new cgroup limited to `limit_mb`, or None and why it cannot be had."""
    name = name or f"shipway-build-{uuid.uuid4().hex[:12]}"
    parent, version, why = _parent()
    if parent is None:
        return None, why
    path = parent / name
    try:
        path.mkdir()
        if version == 2:
            _write(path / "memory.max", str(limit_mb * MB))
            if (path / "memory.swap.max").exists():
                _write(path / "memory.swap.max", "0")
        else:
            _write(path / "memory.limit_in_bytes", str(limit_mb * MB))
            if (path / "memory.memsw.limit_in_bytes").exists():  # no escape into swap
                _write(path / "memory.memsw.limit_in_bytes", str(limit_mb * MB))
    except OSError as exc:
        try:
            path.rmdir()
        except OSError:
            pass
        return None, f"cannot set up cgroup {path}: {exc.strerror or exc}"
    return MemoryCgroup(path, version, limit_mb), ""


def sweep(prefix: str) -> list[str]:
    """Remove the empty build cgroups whose names begin with `prefix` (a
    `kill -9` of the control plane leaves them behind); their names."""
    parent, _, _ = _parent()
    if parent is None:
        return []
    removed = []
    for path in sorted(parent.glob(f"{prefix}-*")):
        try:
            path.rmdir()
        except OSError:
            continue  # still in use
        removed.append(path.name)
    return removed


def _parent() -> tuple[Path | None, int, str]:
    """Where build cgroups go: under shipway's own memory cgroup (v1), or a
    `shipway.builds` group at the v2 root, whose subtree may enable memory
    (a v2 cgroup holding processes, like shipway's own, cannot)."""
    if os.geteuid() != 0:
        return None, 0, "shipway does not run as root"
    mounts = cgroupfs.mounts()
    v2 = mounts.get("cgroup2")
    if v2 is not None and "memory" in cgroupfs.v2_controllers(v2):
        return _v2_parent(v2)
    v1 = mounts.get("memory")
    if v1 is not None:
        own = cgroupfs.own("memory")
        parent = v1 / own.lstrip("/") if own is not None else v1
        if parent.is_dir() and os.access(parent, os.W_OK):
            return parent, 1, ""
        return None, 0, f"the v1 memory cgroup {parent} is not writable"
    return None, 0, "this host has no cgroup memory controller (cgroup v2 without memory, no v1 memory)"


def _v2_parent(root: Path) -> tuple[Path | None, int, str]:
    group = root / "shipway.builds"
    try:
        _write(root / "cgroup.subtree_control", "+memory")
        group.mkdir(exist_ok=True)
        _write(group / "cgroup.subtree_control", "+memory")
    except OSError as exc:
        return None, 0, f"cannot enable the memory controller under {root}: {exc.strerror or exc}"
    return group, 2, ""


_read = cgroupfs.read
_write = cgroupfs.write
