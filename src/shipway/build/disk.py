"""The build's own size-limited file system (B6).

Theory of operation. Each build gets a sparse ext4 image of the build disk
size, loop-mounted, holding `app/`, `tmp/` and `cache/`: the three writable
places of a build share one limit, as on Platform.sh ("the application plus
the cache directory … are limited to 4 GB"), and going past it gives the
build's own processes a real ENOSPC while every other build and environment
keeps its space. The image is never in RAM, so neither is the build's /tmp.

The cache (B5: kept between builds, shared by all branches) travels as the
image itself: a build starts from a sparse copy of the project's last saved
image (only its used blocks are copied, or none where the host file system
can reflink), and a successful build saves its image back — with app/ and
tmp/ emptied and trimmed — by one rename. So concurrent builds of one project
never mount one file system twice, a failed build cannot leave a poisoned or
full cache behind, and no journal is needed: an image is only ever saved
after a clean unmount, so a crash can only damage the image of a build that
dies with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipway.errors import PlatformError

MB = 1 << 20
# One inode per 8 KiB (ext4's default is 16 KiB): node_modules and
# site-packages are many small files, and running out of inodes is ENOSPC too.
MKFS = ("mkfs.ext4", "-q", "-F", "-m", "0", "-i", "8192", "-O", "^has_journal",
        "-E", "lazy_itable_init=1,nodiscard")
# noinit_itable: the image is sparse, so its never-written inode tables
# already read as zeros; zeroing them in the background (ext4lazyinit) would
# only write ~3 % of the image to the host disk during every build.
MOUNT_OPTIONS = "loop,nosuid,nodev,noinit_itable"

Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildDisk:
    image: Path
    mount: Path
    size_mb: int

    @property
    def app(self) -> Path:
        return self.mount / "app"

    @property
    def tmp(self) -> Path:
        return self.mount / "tmp"

    @property
    def cache(self) -> Path:
        return self.mount / "cache"

    def full(self) -> bool:
        """Out of space or inodes (a few blocks may be left after ENOSPC)."""
        st = os.statvfs(self.mount)
        return st.f_bavail * st.f_frsize < MB or st.f_favail == 0


def open_disk(mount: Path, cache_image: Path, size_mb: int, uid: int, log: Log) -> BuildDisk:
    """Create and mount the build disk at `mount`, starting from the project's
    saved cache image when there is one of the same size."""
    disk = BuildDisk(mount.with_name(mount.name + ".img"), mount, size_mb)
    _discard(disk)
    if not _copy_cache(cache_image, disk.image, size_mb * MB, log):
        _make_image(disk.image, size_mb)
    mount.mkdir(parents=True)
    try:
        _run("mount", "-o", MOUNT_OPTIONS, str(disk.image), str(mount))
    except PlatformError:
        disk.image.unlink(missing_ok=True)  # a damaged cache image: start afresh
        _make_image(disk.image, size_mb)
        _run("mount", "-o", MOUNT_OPTIONS, str(disk.image), str(mount))
    for path in (disk.app, disk.tmp, disk.cache):
        path.mkdir(exist_ok=True)
        os.chown(path, uid, uid)
    return disk


def save_cache(disk: BuildDisk, cache_image: Path) -> None:
    """Keep the disk's cache/ for the project's next build; closes the disk."""
    for path in (disk.app, disk.tmp):
        shutil.rmtree(path, ignore_errors=True)
    # Hand freed blocks back to the host so the image stays as small as its cache.
    subprocess.run(["fstrim", str(disk.mount)], capture_output=True, check=False)
    _unmount(disk.mount)
    cache_image.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(disk.image, cache_image)
    except OSError:
        shutil.move(disk.image, cache_image)
    close_disk(disk)


def close_disk(disk: BuildDisk) -> None:
    """Unmount and delete the disk: its space goes back to the host."""
    _discard(disk)


def sweep(work_root: Path) -> list[Path]:
    """Unmount and delete build disks left by a control plane that died
    mid-build; call once at start, before any build. The paths swept."""
    swept = []
    for mount in _mounts_under(work_root):
        _unmount(mount)
        shutil.rmtree(mount, ignore_errors=True)
        swept.append(mount)
    if work_root.is_dir():
        for image in work_root.glob("*.img"):
            image.unlink(missing_ok=True)
            swept.append(image)
    return swept


def _discard(disk: BuildDisk) -> None:
    if os.path.ismount(disk.mount):
        _unmount(disk.mount)
    if disk.mount.is_dir():
        shutil.rmtree(disk.mount, ignore_errors=True)
    disk.image.unlink(missing_ok=True)


def _copy_cache(cache_image: Path, image: Path, size: int, log: Log) -> bool:
    if not cache_image.is_file():
        return False
    if cache_image.stat().st_size != size:
        log("  The build disk size changed: starting with an empty build cache.")
        return False
    proc = subprocess.run(["cp", "--sparse=always", "--reflink=auto", str(cache_image), str(image)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        log(f"  W: could not copy the build cache ({proc.stderr.strip()}); starting with an empty one.")
        image.unlink(missing_ok=True)
        return False
    return True


def _make_image(image: Path, size_mb: int) -> None:
    image.parent.mkdir(parents=True, exist_ok=True)
    with open(image, "wb") as f:
        f.truncate(size_mb * MB)
    try:
        _run(*MKFS, str(image))
    except PlatformError:
        image.unlink(missing_ok=True)
        raise


def _unmount(mount: Path) -> None:
    # A lazy unmount as the last resort: the sandbox is gone by now, but a
    # slow teardown must not leave the image mounted forever.
    if subprocess.run(["umount", str(mount)], capture_output=True, check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def _mounts_under(root: Path) -> list[Path]:
    prefix = str(root.resolve()) + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _run(*argv: str) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise PlatformError(f"{argv[0]} not found: apt-get install e2fsprogs mount") from exc
    if proc.returncode != 0:
        raise PlatformError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
