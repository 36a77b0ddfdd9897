"""Quotas for the pool, so one environment cannot fill everyone's space.

Why simple quotas. Full quota groups (`btrfs quota enable`) trace every
shared block when a snapshot is deleted; that work lands in later
transaction commits, so after a prune the next pre-deploy snapshot stalled
for 0.9–3.1 s (15–40 ms without quotas), and freeing deleted snapshots of
5 GB took minutes instead of a second. Simple quotas (Linux 6.7+) charge a
block to the volume that wrote it and cost about nothing. btrfs-progs 6.2
(Debian 12) cannot turn them on, so this does it with the ioctl itself.

Limits are on exclusive use — what a volume adds beyond what it shares —
in both modes, so a fresh clone of a 5 GB parent starts near zero and a
limit of 1 GB lets it write 1 GB (a limit on everything it sees would make
the clone full before its first write).
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

from shipway.storage.commands import run

SYSFS = Path("/sys/fs/btrfs")
# _IOWR(BTRFS_IOCTL_MAGIC 0x94, 40, struct btrfs_ioctl_quota_ctl_args { u64 cmd, status; })
BTRFS_IOC_QUOTA_CTL = (3 << 30) | (16 << 16) | (0x94 << 8) | 40
BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA = 4
MODES = {"squota": "simple", "qgroup": "full"}
WORDS = {"simple": "simple quotas", "full": "full quotas", "off": "no quotas"}


def mode(source: str) -> str:
    """"simple", "full" or "off" for the btrfs on device `source`."""
    device = Path(os.path.realpath(source)).name
    for fs in SYSFS.glob("*/devices"):
        if (fs / device).exists():
            try:
                return MODES.get((fs.parent / "qgroups" / "mode").read_text().strip(), "full")
            except FileNotFoundError:
                return "off"
    return "off"


def enable(root: Path) -> None:
    """Simple quotas where the kernel has them, full ones otherwise."""
    if not (SYSFS / "features" / "simple_quota").exists():
        run("btrfs", "quota", "enable", str(root))
        return
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        args = bytearray(struct.pack("QQ", BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA, 0))
        fcntl.ioctl(fd, BTRFS_IOC_QUOTA_CTL, args)
    finally:
        os.close(fd)
