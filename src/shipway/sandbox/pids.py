"""The pids limit of every build and app process tree (S5): a cgroup of its own.

Theory of operation. A build, each supervised app process (web, each worker)
and each hook or cron run gets a cgroup whose `pids.max` caps how many
processes and threads its tree may hold at once; a fork past it fails with
EAGAIN and the kernel counts it in `pids.events` ("max N"), which is how the
limit is seen being hit. The process enters the cgroup before bwrap starts
(the same dash prologue as the memory limit), so nothing of the tree runs
outside it. cgroup v1 (a `pids` hierarchy) is used where it is mounted (as
on the project machine, where it is tested), else v2 (`pids.max` in the
unified tree; not exercised here, no v2 pids controller on this host). On
v2 a build's pids and memory limits share one directory, because a v2
process is in exactly one cgroup. Where no pids controller can
be used, `create` says why and the caller says so in its log.

Why not RLIMIT_NPROC: it caps the processes of a *real uid*, counted host
wide, not those of one tree. Every build runs as the one build uid, so a bomb
in one build would make every other build's forks fail; an environment's
web, workers, hooks, crons and its previous release's processes still
stopping all share the app uid, so one limit would be split among them by
luck. It is not enforced for root or CAP_SYS_RESOURCE (the outer bwrap runs
as root), and it gives no handle on the tree: nothing to count or kill it
by. A cgroup counts exactly one tree, whatever its uids, and can be read
and killed as a whole.

Killing. v2 has `cgroup.kill`; v1 has not, so `kill_all` SIGKILLs what
`cgroup.procs` lists until the cgroup is empty: a process being forked while
it reads is caught by the next sweep, and the limit bounds how many a sweep
must kill.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from shipway.errors import UsageError
from shipway.sandbox import cgroupfs

BUILD_SETTING, DEFAULT_BUILD = "SHIPWAY_BUILD_PIDS", 512
APP_SETTING, DEFAULT_APP = "SHIPWAY_APP_PIDS", 1024
# sh + two bwraps + the command, with room for a shell pipeline: below this a
# limit breaks every build or app, and is a typo rather than a choice.
MINIMUM = 16


def parse_limit(name: str, raw: str | None, default: int) -> int:
    """A pids limit from setting `name` (unset or empty: `default`)."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    if not value.isdigit():
        raise UsageError(f"{name}={raw!r} is not a whole number of processes; "
                         f"set it to e.g. {default}")
    if int(value) < MINIMUM:
        raise UsageError(f"{name}={raw!r} is too low: at least {MINIMUM} processes are "
                         f"needed to run anything; the default is {default}")
    return int(value)


def limit_message(who: str, limit: int, setting: str, where: str = "") -> str:
    """What the log says when `who` ("the build", "the web process", …) hit
    its limit; `where` narrows it down (" in the build hook")."""
    return (f"{who} reached its limit of {limit} processes ({setting}){where}: a fork was "
            f"refused, so it was stopped; set {setting} to raise the limit")


def instance_prefix(home: Path) -> str:
    """How every cgroup name of the shipway instance at `home` begins (the
    digest of Settings.instance), so that its sweep leaves other instances'
    cgroups alone."""
    return "shipway-" + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:8]


def app_group_name(home: Path, state_dir: Path) -> str:
    """The cgroup of one supervised process: stable, so a restarted control
    plane (or a later stop) finds it again."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]
    return f"{instance_prefix(home)}-app-{digest}"


def transient_name(home: Path, kind: str) -> str:
    return f"{instance_prefix(home)}-{kind}-{uuid.uuid4().hex[:12]}"


# Every name shipway makes (instance_prefix, app_group_name, transient_name):
# joined to a cgroup parent, so never a '/' or '..' (a spec could be read
# from a directory the app wrote: then it would name sshd's cgroup).
NAME = re.compile(r"shipway-[0-9a-f]{8}-[a-z]+-[0-9a-f]{12,16}")


def checked_name(name: object) -> str:
    """`name` if it is one of shipway's cgroup names; else ValueError."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"not a shipway cgroup name: {name!r}")
    return name


@dataclass(frozen=True)
class Limit:
    """A supervised process's limit, as its spec carries it."""

    name: str
    max: int

    def __post_init__(self) -> None:
        checked_name(self.name)


@dataclass(frozen=True)
class PidsCgroup:
    path: Path
    version: int
    limit: int

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv`, started inside this cgroup."""
        return cgroupfs.entering(self.path, argv)

    def hits(self) -> int:
        """How many forks the limit has refused so far."""
        for line in cgroupfs.read(self.path / "pids.events").splitlines():
            name, _, value = line.partition(" ")
            if name == "max" and value.strip().isdigit():
                return int(value)
        return 0

    def current(self) -> int:
        raw = cgroupfs.read(self.path / "pids.current").strip()
        return int(raw) if raw.isdigit() else len(self.pids())

    def peak(self) -> int | None:
        """The most processes it held at once (pids.peak, Linux 6.1+), or None."""
        raw = cgroupfs.read(self.path / "pids.peak").strip()
        return int(raw) if raw.isdigit() else None

    def pids(self) -> list[int]:
        return cgroupfs.members(self.path)

    def kill_all(self, timeout: float = 5.0) -> bool:
        """SIGKILL everything inside until none is left running; False if some
        still is by `timeout`. Zombies are not waited for: cgroup.procs drops
        a process as it exits (pids.current only once it is reaped, and the
        caller may be the parent that has yet to reap it)."""
        deadline = time.monotonic() + timeout
        while members := self.pids():
            if (self.path / "cgroup.kill").exists():
                cgroupfs.write(self.path / "cgroup.kill", "1")
            for pid in members:
                _kill(pid)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left and remove the cgroup."""
        deadline = time.monotonic() + timeout
        while True:
            self.kill_all(max(0.0, deadline - time.monotonic()))
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.02)


def create(limit: int, name: str, kind: str) -> tuple[PidsCgroup | None, str]:
    """The cgroup `name` (created, or reused if it exists) limited to `limit`
    processes, or None and why it cannot be had. `kind` ("builds", "apps")
    names its v2 parent; a build passes the name of its memory cgroup."""
    parent, version, why = _parent(kind)
    if parent is None:
        return None, why
    path = parent / checked_name(name)
    try:
        path.mkdir(exist_ok=True)
        cgroupfs.write(path / "pids.max", str(limit))
    except OSError as exc:
        try:
            path.rmdir()
        except OSError:
            pass
        return None, f"cannot set up cgroup {path}: {exc.strerror or exc}"
    return PidsCgroup(path, version, limit), ""


def existing(name: str, kind: str) -> PidsCgroup | None:
    """The cgroup `name` if it is there (to clean up after a killed supervisor)."""
    parent, version, _ = _parent(kind, enable=False)
    if parent is None or not (parent / checked_name(name)).is_dir():
        return None
    raw = cgroupfs.read(parent / name / "pids.max").strip()
    return PidsCgroup(parent / name, version, int(raw) if raw.isdigit() else 0)


def sweep(home: Path, kill: bool = False) -> list[str]:
    """Remove the cgroups of the instance at `home` that hold no process (a
    `kill -9` of the control plane or of a supervisor leaves them behind);
    with `kill`, every one of them, killing what is inside. Their names."""
    removed = []
    for kind in ("builds", "apps"):
        parent, _, _ = _parent(kind, enable=False)
        if parent is None or not parent.is_dir():
            continue
        for path in sorted(parent.glob(f"{instance_prefix(home)}-*")):
            if kill:
                PidsCgroup(path, 0, 0).kill_all()
            try:
                path.rmdir()
            except OSError:
                continue  # still in use
            removed.append(path.name)
    return removed


def _parent(kind: str, enable: bool = True) -> tuple[Path | None, int, str]:
    if os.geteuid() != 0:
        return None, 0, "shipway does not run as root"
    mounts = cgroupfs.mounts()
    v2 = mounts.get("cgroup2")
    if v2 is not None and "pids" in cgroupfs.v2_controllers(v2):
        return _v2_parent(v2, f"shipway.{kind}", enable)
    v1 = mounts.get("pids")
    if v1 is not None:
        own = cgroupfs.own("pids")
        parent = v1 / own.lstrip("/") if own is not None else v1
        if parent.is_dir() and os.access(parent, os.W_OK):
            return parent, 1, ""
        return None, 0, f"the v1 pids cgroup {parent} is not writable"
    return None, 0, "this host has no cgroup pids controller (cgroup v2 without pids, no v1 pids)"


def _v2_parent(root: Path, name: str, enable: bool) -> tuple[Path | None, int, str]:
    # A v2 cgroup that holds processes (like shipway's own) cannot enable
    # controllers for children: the groups hang from the root instead.
    group = root / name
    if not enable:
        return group, 2, ""
    try:
        cgroupfs.write(root / "cgroup.subtree_control", "+pids")
        group.mkdir(exist_ok=True)
        cgroupfs.write(group / "cgroup.subtree_control", "+pids")
    except OSError as exc:
        return None, 0, f"cannot enable the pids controller under {root}: {exc.strerror or exc}"
    return group, 2, ""


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
