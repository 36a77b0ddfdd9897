"""What of the host's root a sandbox gets to see.

A sandbox sees only the system trees (`/usr`, `/etc`, `/opt`, and `/bin`,
`/lib`… as the host has them: symlinks into `/usr` on merged-/usr systems,
real directories elsewhere). `/root`, `/home`, `/var`, `/run` and shipway's
own state stay invisible. `--ro-bind / /` is not an option: bwrap cannot
create `/app` inside a read-only root.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shipway.errors import PlatformError

SYSTEM_DIRS = ("usr", "etc", "opt", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


@dataclass(frozen=True)
class HostLayout:
    """Sandbox paths to bind read-only from the host (same path inside)."""

    ro_dirs: tuple[str, ...]
    symlinks: tuple[tuple[str, str], ...] = ()
    ro_files: tuple[str, ...] = ()
    setpriv: str = "/usr/bin/setpriv"
    bwrap: str = "bwrap"


@functools.cache
def probe_host_layout() -> HostLayout:
    """The running host's layout (cached: it does not change under us)."""
    layout = read_layout(Path("/"))
    setpriv = shutil.which("setpriv", path="/usr/bin:/usr/sbin:/bin:/sbin")
    if setpriv is None:
        raise PlatformError("setpriv not found: apt-get install util-linux")
    return HostLayout(
        layout.ro_dirs, layout.symlinks, layout.ro_files, setpriv, shutil.which("bwrap") or "bwrap"
    )


def read_layout(root: Path) -> HostLayout:
    """Mirror `root`'s system directories and symlinks; skip what is absent."""
    dirs: list[str] = []
    links: list[tuple[str, str]] = []
    for name in SYSTEM_DIRS:
        path = root / name
        if path.is_symlink():
            links.append((f"/{name}", os.readlink(path)))
        elif path.is_dir():
            dirs.append(f"/{name}")
    return HostLayout(tuple(dirs), tuple(links), _resolv_conf(root, tuple(dirs)))


def _resolv_conf(root: Path, dirs: tuple[str, ...]) -> tuple[str, ...]:
    """systemd-resolved makes /etc/resolv.conf a symlink into /run, which the
    sandbox does not see: bind that one file so DNS keeps working."""
    link = root / "etc" / "resolv.conf"
    if not link.is_symlink():
        return ()
    raw = os.readlink(link)
    target = PurePosixPath(os.path.normpath(PurePosixPath("/etc") / raw))
    inside = any(target.is_relative_to(d) for d in dirs)
    exists = (root / target.relative_to("/")).is_file()
    return () if inside or not exists else (str(target),)
