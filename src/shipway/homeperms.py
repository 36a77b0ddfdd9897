"""Who may read what under SHIPWAY_HOME (S3).

Theory of operation. The control plane runs with umask 077, so whatever it
creates is root's alone unless made otherwise on purpose. Two kinds of
directory are opened on purpose, for the router's uid (Caddy runs as its own
user, in the apps group; router/caddy.py):

- traversable (0711): on the way to something the router must reach — its
  own home, the unix sockets it dials, the hold markers it stats, the
  location roots it serves through `current/` links into the artifact view.
  Search only: nobody can list them, and each file inside has its own mode.
- private (0700): the state DB with its -wal/-shm, activity and app logs,
  the data pool image, git repositories, builds, the services' supervisor
  state: the directory itself keeps every other uid out, whatever mode an
  older shipway gave the files in it. (Service records with passwords live
  in the environment's volume, 0600 each; the router's CA key in its own
  0700 home, owned by its uid.)

`HOME_MODES` is the policy as a value; `secure_home` applies it at every
start of `shipway serve`, so an upgraded install is protected too.
`blocked_by` decides whether the router can reach the home at all: a home
under a 0700 directory (`mktemp -d`, /root) cannot be served, and the
operator is told which directory to open or where else to put the home.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from shipway.errors import PlatformError

UMASK = 0o077
TRAVERSABLE = 0o711

# Relative to SHIPWAY_HOME ("" is the home itself).
HOME_MODES: dict[str, int] = {
    "": TRAVERSABLE,
    "run": TRAVERSABLE,
    "runview": TRAVERSABLE,  # the nosymfollow view of run/ the router dials sockets through (S4)
    "current": TRAVERSABLE,
    "holds": TRAVERSABLE,
    "store": 0o700,
    "store/artifacts": TRAVERSABLE,  # the root of the read-only view the router serves from
    "state": 0o700,
    "activities": 0o700,
    "logs": 0o700,
    "storage": 0o700,
    "services": 0o700,
    "control": 0o700,
    "api": 0o700,  # the HTTPS API's CA and server keys (A3); root copies ca.crt to clients
    "git": 0o700,
    "builds": 0o700,
    "cache": 0o700,
    "tmp": 0o700,
}


def secure_home(home: Path) -> list[str]:
    """Apply HOME_MODES to the directories that exist; the ones changed."""
    changed = []
    for rel, mode in HOME_MODES.items():
        path = home / rel if rel else home
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) != mode:
            os.chmod(path, mode)
            changed.append(f"{rel or '.'} {stat.S_IMODE(st.st_mode):04o} -> {mode:04o}")
    return changed


def make_traversable(base: Path, path: Path) -> Path:
    """mkdir `path` and every directory between `base` and it, each 0711:
    the router passes through them to a socket or a location root."""
    current = base
    for part in path.relative_to(base).parts:
        current = current / part
        current.mkdir(mode=TRAVERSABLE, exist_ok=True)
        os.chmod(current, TRAVERSABLE)  # mkdir's mode is cut by the umask
    return path


@dataclass(frozen=True)
class DirStat:
    path: str
    mode: int
    uid: int
    gid: int


def can_search(entry: DirStat, uid: int, gids: Iterable[int]) -> bool:
    """Whether `uid` (in groups `gids`) may pass through the directory (x), as the kernel decides."""
    if uid == 0:
        return True
    if entry.uid == uid:
        return bool(entry.mode & stat.S_IXUSR)
    if entry.gid in set(gids):
        return bool(entry.mode & stat.S_IXGRP)
    return bool(entry.mode & stat.S_IXOTH)


def blocked_by(chain: Iterable[DirStat], uid: int, gids: Iterable[int]) -> DirStat | None:
    """The first directory of `chain` (/ first) that `uid` cannot pass through."""
    groups = tuple(gids)
    return next((entry for entry in chain if not can_search(entry, uid, groups)), None)


def ancestors(path: Path) -> list[DirStat]:
    """/ down to the parent of `path`, as they are now (symlinks resolved)."""
    real = path.resolve()
    out = []
    for parent in reversed(real.parents):
        st = os.stat(parent)
        out.append(DirStat(str(parent), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))
    return out


def check_router_reaches(home: Path, uid: int, gids: Iterable[int],
                         what: str = "SHIPWAY_HOME") -> None:
    """Refuse a home the router's uid cannot reach, naming what to change.
    Caddy itself exits without a word when it cannot read its config."""
    blocker = blocked_by(ancestors(home), uid, gids)
    if blocker is not None:
        raise PlatformError(
            f"the router (Caddy, uid {uid}) cannot reach {what} {home}: {blocker.path} "
            f"is mode {blocker.mode:04o} (owner uid {blocker.uid}), which it cannot pass "
            f"through. Run `chmod o+x {blocker.path}` (search only: it does not let anyone "
            "list it), or set SHIPWAY_HOME to a directory outside it, e.g. /var/lib/shipway"
        )
