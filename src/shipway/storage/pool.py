"""Opening the data pool at control-plane start (idempotent, fast when mounted).

    $home/volumes        the pool's root (a mount point in loop mode)
    $home/storage/       pool.img (loop mode) and pool.json, the recorded choice

The kind of pool is chosen once (mode.py) and recorded. In auto mode a host
that cannot have btrfs (no kernel support, no btrfs-progs, mount refused)
gets copy mode; a pool that was btrfs never falls back, since its data is
inside the image and plain directories would hide it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from shipway.errors import PlatformError, UsageError
from shipway.storage import loop, quota
from shipway.storage.btrfs import QUOTAS_OFF, BtrfsBackend
from shipway.storage.commands import succeeds
from shipway.storage.copying import CopyBackend
from shipway.storage.mode import (
    REQUESTS,
    Choice,
    Facts,
    Kind,
    Mount,
    Requested,
    choose,
    mount_of,
    parse_mountinfo,
)
from shipway.storage.volumes import MB, Pool

DEFAULT_POOL_MB = 20480
# mkfs.btrfs refuses much less; below this a pool is mostly metadata.
MIN_POOL_MB = 256


def open_pool(home: Path, *, size_mb: int = DEFAULT_POOL_MB, mode: Requested = "auto") -> Pool:
    if mode not in REQUESTS:
        raise UsageError(f"storage mode {mode!r} is not one of {', '.join(REQUESTS)}")
    if size_mb < MIN_POOL_MB:
        raise UsageError(f"a data pool of {size_mb} MB is too small: give at least {MIN_POOL_MB} MB")
    home = Path(os.path.realpath(home))
    choice = choose(mode, _facts(home))
    if choice.kind is None:
        raise PlatformError(f"cannot open the data pool in {home}: {choice.reason}")
    pool = _open(home, choice, size_mb, fallback=mode == "auto")
    for area in (pool.layout.volumes, pool.layout.snapshots, pool.layout.trash):
        area.mkdir(exist_ok=True)
    pool.sweep()
    return pool


def _open(home: Path, choice: Choice, size_mb: int, *, fallback: bool) -> Pool:
    recorded = _recorded(home)
    reason = recorded.get("reason") or choice.reason
    pool: Pool | None = None
    if choice.kind == "loop":
        known = recorded.get("kind") == "loop"
        try:
            pool = _open_loop(home, size_mb, known=known)
        except PlatformError as exc:
            if not fallback or known or (home / "storage" / "pool.img").exists():
                raise
            reason = f"btrfs could not be set up: {exc}"
    elif choice.kind == "host":
        pool = _open_host(home)
    if pool is None:
        pool = _open_copy(home, reason)
    kind = "copy" if pool.mode == "copy" else "loop" if pool.mounted else "host"
    _record(home, {"kind": kind, "reason": reason if kind == "copy" else ""})
    return pool


def _open_loop(home: Path, size_mb: int, *, known: bool) -> Pool:
    image, root = home / "storage" / "pool.img", home / "volumes"
    mounted = loop.current_mount(root)
    if mounted is not None and loop.backing_file(mounted.source) != image:
        raise PlatformError(f"{root} has another filesystem mounted ({mounted.source}); "
                            f"shipway's data pool is {image}")
    if known and not image.exists():
        # Never replace a lost pool by an empty one without being told to.
        raise PlatformError(f"the data pool image {image} is missing; restore it, or delete "
                            f"{home / 'storage' / 'pool.json'} to start with an empty pool")
    warnings = []
    if mounted is None:
        _mount_new(image, root, size_mb)
        mounted = loop.current_mount(root)
        assert mounted is not None
        warnings += _quotas_on(mounted.source, root)
    warnings += _resize(image, mounted.source, root, size_mb)
    quotas = quota.mode(mounted.source)
    method = f"btrfs (loop image {image}, {image.stat().st_size // MB} MB, {quota.WORDS[quotas]})"
    warnings += _host_space_warnings(image) + _quota_warnings(quotas, root)
    return Pool(root, BtrfsBackend(root, quotas=quotas != "off"), "btrfs", method, mounted=True,
                warnings=warnings)


def _mount_new(image: Path, root: Path, size_mb: int) -> None:
    created = not image.exists()
    if created:
        loop.make_image(image, size_mb)
    try:
        loop.mount(image, root)
    except PlatformError:
        if created:
            image.unlink()  # empty: keeps a refused mount from pinning loop mode
        raise


def _quotas_on(source: str, root: Path) -> list[str]:
    # At (re)mount only, so an already-mounted pool opens without running anything.
    try:
        if quota.mode(source) == "off":
            quota.enable(root)
    except (OSError, PlatformError) as exc:  # the pool works without; only limits are lost
        return [f"could not turn btrfs quotas on: {exc}"]
    succeeds("btrfs", "qgroup", "clear-stale", str(root))  # kernels before 6.x keep them
    return []


def _open_host(home: Path) -> Pool:
    root = home / "volumes"
    root.mkdir(parents=True, exist_ok=True)
    # Quotas are filesystem-wide: turning them on for the host's own btrfs is
    # the administrator's call, so use them only if already on.
    on = _mount_of(root)
    quotas = quota.mode(on.source) if on else "off"
    return Pool(root, BtrfsBackend(root, quotas=quotas != "off"), "btrfs",
                f"btrfs (host filesystem, {quota.WORDS[quotas]})", warnings=_quota_warnings(quotas, root))


def _quota_warnings(quotas: str, root: Path) -> list[str]:
    if quotas == "off":
        return [QUOTAS_OFF.format(root=root)]
    if quotas == "full":
        return ["full btrfs quota groups are on (simple quotas need Linux 6.7): after snapshots are "
                "deleted, the next snapshots can stall for seconds"]
    return []


def _open_copy(home: Path, reason: str) -> Pool:
    root = home / "volumes"
    root.mkdir(parents=True, exist_ok=True)
    return Pool(root, CopyBackend(), "copy", f"copy ({reason})")


def _resize(image: Path, device: str, root: Path, size_mb: int) -> list[str]:
    current = image.stat().st_size // MB
    if size_mb > current:
        try:
            loop.grow(image, device, root, size_mb)
        except (OSError, PlatformError) as exc:
            return [f"the data pool stays at {current} MB: growing it to {size_mb} MB failed: {exc}"]
    elif size_mb < current:
        return [f"the data pool stays at {current} MB (asked for {size_mb} MB): it cannot shrink"]
    return []


def _host_space_warnings(image: Path) -> list[str]:
    st = image.stat()
    can_grow = st.st_size - st.st_blocks * 512
    free = shutil.disk_usage(image.parent).free
    if can_grow <= free:
        return []
    return [f"the data pool image can still grow by {can_grow // MB} MB but its disk has "
            f"{free // MB} MB free: if that disk fills, the pool turns read-only"]


def _mount_of(path: Path) -> Mount | None:
    with open("/proc/self/mountinfo") as f:
        return mount_of(path, parse_mountinfo(f.read()))


def _facts(home: Path) -> Facts:
    kinds: dict[str | None, Kind] = {"host": "host", "loop": "loop", "copy": "copy"}
    on = _mount_of(home / "volumes")
    return Facts(
        recorded=kinds.get(_recorded(home).get("kind")),
        image_exists=(home / "storage" / "pool.img").is_file(),
        root_fstype=on.fstype if on else None,
        kernel_btrfs=_kernel_has_btrfs(),
        progs=all(shutil.which(t) for t in ("btrfs", "mkfs.btrfs")),
    )


def _kernel_has_btrfs() -> bool:
    if "btrfs" in Path("/proc/filesystems").read_text().split():
        return True
    # A module not loaded yet is listed only once loaded.
    return succeeds("modprobe", "-q", "btrfs") and "btrfs" in Path("/proc/filesystems").read_text()


def _recorded(home: Path) -> dict[str, str]:
    try:
        data = json.loads((home / "storage" / "pool.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(home: Path, data: dict[str, str | None]) -> None:
    path = home / "storage" / "pool.json"
    if _recorded(home) == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("pool.json.tmp")
    tmp.write_text(json.dumps(data) + "\n")
    os.replace(tmp, path)
