"""A btrfs filesystem in a sparse image file, loop-mounted: copy-on-write
volumes on a host whose own filesystem (ext4 here) has none.

Traps: the image is sparse, so the host disk can fill before btrfs thinks
it is full; btrfs then gets write errors from the loop device and turns
read-only (pool.py warns when the host cannot hold the whole image).
`discard=async` hands freed blocks back to the host as holes, so deleted
environments give their space back to the host, not only to the pool.
"""

from __future__ import annotations

import os
from pathlib import Path

from shipway.storage.commands import run, succeeds
from shipway.storage.mode import Mount, mount_of, parse_mountinfo

MB = 1 << 20
MOUNT_OPTIONS = "loop,noatime,nosuid,nodev,discard=async"


def make_image(image: Path, size_mb: int) -> None:
    """A formatted image at `image`; it only appears there once formatted,
    so an image that exists is always a filesystem (mode.py relies on it)."""
    image.parent.mkdir(parents=True, exist_ok=True)
    new = image.with_name(image.name + ".new")
    with open(new, "wb") as f:
        f.truncate(size_mb * MB)
    try:
        run("mkfs.btrfs", "-q", "-f", "-L", "shipway-data", str(new))
    except BaseException:
        new.unlink(missing_ok=True)
        raise
    os.rename(new, image)


def mount(image: Path, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    run("mount", "-o", MOUNT_OPTIONS, str(image), str(root))


def current_mount(root: Path) -> Mount | None:
    """What is mounted exactly at `root`, if anything."""
    with open("/proc/self/mountinfo") as f:
        found = mount_of(root, parse_mountinfo(f.read()))
    return found if found is not None and found.point == root else None


def backing_file(source: str) -> Path | None:
    """The image behind a loop device such as /dev/loop3."""
    if not source.startswith("/dev/loop"):
        return None
    try:
        text = Path(f"/sys/block/{Path(source).name}/loop/backing_file").read_text().strip()
    except OSError:
        return None
    return Path(text)


def grow(image: Path, device: str, root: Path, size_mb: int) -> None:
    """Enlarge a mounted image: the file, then the loop device, then btrfs."""
    with open(image, "r+b") as f:
        f.truncate(size_mb * MB)
    run("losetup", "-c", device)
    run("btrfs", "filesystem", "resize", "max", str(root))


def trim(root: Path) -> None:
    """Punch every free block out of the image now (discard=async gets
    there too, throttled, minutes later)."""
    run("fstrim", str(root))


def unmount(root: Path) -> None:
    # Lazy as the last resort (a shell sitting in a volume): the mount goes
    # away once unused, and the loop device with it (autoclear).
    if not succeeds("umount", str(root)):
        run("umount", "-l", str(root))
