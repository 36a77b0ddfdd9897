"""E2 and rollback-with-data storage, on a real loop-mounted btrfs and in copy
mode through the same tests: clones are independent, snapshots restore,
prune and delete free, limits hold, and the pool survives a re-open."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.errors import NotFound, PlatformError, UsageError
from shipway.storage import Pool, VolumeExists, loop, open_pool, reown, scrub_clone

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
needs_btrfs = pytest.mark.skipif(shutil.which("mkfs.btrfs") is None, reason="needs btrfs-progs")
pytestmark = [pytest.mark.e2e, needs_root]
POOL_MB = 1024


def release(home: Path) -> None:
    """Unmount whatever the test left mounted and free the image's blocks."""
    if loop.current_mount(home / "volumes") is not None:
        loop.unmount(home / "volumes")
    (home / "storage" / "pool.img").unlink(missing_ok=True)


@pytest.fixture(params=[pytest.param("btrfs", marks=needs_btrfs), "copy"])
def pool(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pool]:
    home = tmp_path / "home"
    try:
        yield open_pool(home, size_mb=POOL_MB, mode=request.param)
    finally:
        release(home)


@pytest.fixture
def btrfs_pool(tmp_path: Path) -> Iterator[Pool]:
    """A btrfs pool only (the test itself says @needs_btrfs)."""
    home = tmp_path / "home"
    try:
        yield open_pool(home, size_mb=POOL_MB, mode="btrfs")
    finally:
        release(home)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_e2_clone_is_independent_of_its_parent(pool: Pool) -> None:
    parent = pool.create("proj/main")
    write(parent / "app" / "uploads" / "a.txt", "from main")
    child = pool.clone("proj/main", "proj/dev")
    assert (child / "app" / "uploads" / "a.txt").read_text() == "from main"
    write(parent / "app" / "uploads" / "a.txt", "main changed")
    write(child / "app" / "uploads" / "b.txt", "only in dev")
    assert (child / "app" / "uploads" / "a.txt").read_text() == "from main"
    assert not (parent / "app" / "uploads" / "b.txt").exists()
    assert pool.exists("proj/dev") and not pool.exists("proj")


def test_e2_clone_refuses_an_existing_or_nested_destination(pool: Pool) -> None:
    pool.create("proj/main")
    pool.create("proj/dev")
    with pytest.raises(VolumeExists):
        pool.clone("proj/main", "proj/dev")
    with pytest.raises(UsageError, match="inside volume proj/main"):
        pool.clone("proj/main", "proj/main/x")
    with pytest.raises(VolumeExists, match="holds other volumes"):
        pool.create("proj")
    with pytest.raises(NotFound):
        pool.clone("proj/nope", "proj/other")


def test_rollback_with_data_restores_the_snapshot(pool: Pool) -> None:
    vol = pool.create("proj/main")
    write(vol / "app" / "db" / "data", "v1")
    snap = pool.snapshot("proj/main", "deploy-1")
    assert (snap / "app" / "db" / "data").read_text() == "v1"
    write(vol / "app" / "db" / "data", "v2")
    write(vol / "app" / "db" / "new", "made by deploy 2")
    assert pool.restore("deploy-1", "proj/main") == vol
    assert (vol / "app" / "db" / "data").read_text() == "v1"
    assert not (vol / "app" / "db" / "new").exists()
    assert (snap / "app" / "db" / "data").read_text() == "v1"  # the snapshot stays
    assert list(pool.layout.trash.iterdir()) == []


def test_restore_into_a_new_volume_and_refusals(pool: Pool) -> None:
    vol = pool.create("proj/main")
    write(vol / "f", "x")
    pool.snapshot("proj/main", "s1")
    copy = pool.restore("proj/main@s1", "proj/restored")
    assert (copy / "f").read_text() == "x"
    with pytest.raises(VolumeExists):
        pool.snapshot("proj/main", "s1")
    with pytest.raises(NotFound):
        pool.restore("s2", "proj/main")


def test_prune_keeps_the_newest_snapshots(pool: Pool) -> None:
    vol = pool.create("proj/main")
    for n in range(1, 5):
        write(vol / "n", str(n))
        pool.snapshot("proj/main", f"deploy-{n}")
    (pool.layout.snapshot_dir("proj/main") / "crashed").mkdir()  # a snapshot never completed
    assert [s.name for s in pool.snapshots("proj/main")] == [f"deploy-{n}" for n in range(1, 5)]
    assert pool.prune("proj/main", keep=2) == ["crashed", "deploy-1", "deploy-2"]
    kept = pool.snapshots("proj/main")
    assert [(s.ref, (s.path / "n").read_text()) for s in kept] == [
        ("proj/main@deploy-3", "3"), ("proj/main@deploy-4", "4")]


def test_delete_removes_the_volume_and_its_snapshots(pool: Pool) -> None:
    vol = pool.create("proj/dev")
    write(vol / "f", "x")
    pool.snapshot("proj/dev", "s1")
    assert pool.delete("proj/dev") is True
    assert not pool.exists("proj/dev") and pool.snapshots("proj/dev") == []
    assert list(pool.layout.volumes.iterdir()) == [] and list(pool.layout.snapshots.iterdir()) == []
    assert list(pool.layout.trash.iterdir()) == []
    assert pool.delete("proj/dev") is False


@needs_btrfs
def test_delete_also_removes_subvolumes_nested_by_someone_else(btrfs_pool: Pool) -> None:
    pool = btrfs_pool
    vol = pool.create("proj/dev")
    (vol / "deep").mkdir()
    subprocess.run(["btrfs", "-q", "subvolume", "create", str(vol / "deep" / "sub")], check=True)
    assert pool.backend.is_volume(vol / "deep" / "sub")
    assert pool.delete("proj/dev")
    assert not vol.exists()


def test_limit_stops_writes_past_it(pool: Pool) -> None:
    vol = pool.create("proj/dev")
    warning = pool.limit("proj/dev", 20)
    if pool.mode == "copy":
        assert warning is not None and "no size limit" in warning
        return
    assert warning is None
    with pytest.raises(OSError) as caught, open(vol / "big", "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1 << 20))
            f.flush()
            os.fsync(f.fileno())
    assert caught.value.errno in (errno.EDQUOT, errno.ENOSPC)
    usage = pool.usage("proj/dev")
    assert usage is not None and usage.limit == 20 << 20


@needs_btrfs
def test_a_limited_clone_of_a_bigger_parent_can_still_write(btrfs_pool: Pool) -> None:
    pool = btrfs_pool
    assert "simple quotas" in pool.method or "full quotas" in pool.method
    (pool.create("proj/main") / "data").write_bytes(os.urandom(40 << 20))
    child = pool.clone("proj/main", "proj/dev")
    assert pool.limit("proj/dev", 20) is None
    (child / "new").write_bytes(os.urandom(10 << 20))  # a limit on all it sees would refuse this
    with pytest.raises(OSError) as caught:
        (child / "more").write_bytes(os.urandom(30 << 20))
        os.sync()
    assert caught.value.errno in (errno.EDQUOT, errno.ENOSPC)


@needs_btrfs
def test_restore_keeps_the_volume_limit(btrfs_pool: Pool) -> None:
    pool = btrfs_pool
    pool.create("proj/main")
    pool.snapshot("proj/main", "s1")
    pool.limit("proj/main", 30)
    pool.restore("s1", "proj/main")
    usage = pool.usage("proj/main")
    assert usage is not None and usage.limit == 30 << 20


@needs_btrfs
def test_quotas_turned_off_by_an_administrator_only_lift_limits(btrfs_pool: Pool) -> None:
    pool = btrfs_pool
    pool.create("proj/main")
    pool.snapshot("proj/main", "s1")
    subprocess.run(["btrfs", "quota", "disable", str(pool.root)], check=True)
    pool.restore("s1", "proj/main")
    assert pool.usage("proj/main") is None
    warning = pool.limit("proj/main", 10)
    assert warning is not None and "quotas are off" in warning


@needs_btrfs
def test_settle_waits_for_deleted_space(btrfs_pool: Pool) -> None:
    # btrfs only: in copy mode rmtree frees at once, and the host disk is shared.
    settle_and_measure(btrfs_pool)


def settle_and_measure(pool: Pool) -> None:
    vol = pool.create("proj/dev")
    (vol / "big").write_bytes(os.urandom(64 << 20))
    pool.snapshot("proj/dev", "s1")
    pool.flush()
    before = shutil.disk_usage(pool.root).used
    pool.delete("proj/dev")
    pool.settle()
    assert shutil.disk_usage(pool.root).used < before - (50 << 20)
    image = pool.root.parent / "storage" / "pool.img"
    assert image.stat().st_blocks * 512 < 40 << 20  # and the host got the blocks back


def test_reopening_a_mounted_pool_is_idempotent_and_fast(pool: Pool) -> None:
    write(pool.create("proj/main") / "f", "kept")
    started = time.monotonic()
    again = open_pool(pool.root.parent, size_mb=POOL_MB)
    assert time.monotonic() - started < 0.5
    assert again.method == pool.method and again.mode == pool.mode
    assert (again.path("proj/main") / "f").read_text() == "kept"


def test_reopening_after_a_reboot_keeps_the_data(pool: Pool) -> None:
    write(pool.create("proj/main") / "f", "kept")
    pool.snapshot("proj/main", "s1")
    pool.unmount()  # what a reboot does to the loop mount
    again = open_pool(pool.root.parent, size_mb=POOL_MB)
    assert again.method == pool.method
    assert (again.path("proj/main") / "f").read_text() == "kept"
    assert [s.name for s in again.snapshots("proj/main")] == ["s1"]


def test_open_empties_the_trash_a_crash_left(pool: Pool) -> None:
    leftover = pool.layout.trash / "half-made"
    write(leftover / "f", "x")
    open_pool(pool.root.parent, size_mb=POOL_MB)
    assert not leftover.exists()


@needs_btrfs
def test_a_lost_image_is_not_silently_replaced_by_an_empty_pool(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        open_pool(home, size_mb=POOL_MB).unmount()
        (home / "storage" / "pool.img").unlink()
        with pytest.raises(PlatformError, match="pool.img is missing"):
            open_pool(home, size_mb=POOL_MB)
    finally:
        release(home)


def test_the_first_choice_sticks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = open_pool(home, size_mb=POOL_MB, mode="copy")
    assert first.method == "copy (copy mode was requested)" and not first.atomic_snapshots
    assert open_pool(home, size_mb=POOL_MB).mode == "copy"
    with pytest.raises(PlatformError, match="created in copy mode"):
        open_pool(home, size_mb=POOL_MB, mode="btrfs")


def test_auto_mode_falls_back_to_copy_without_btrfs_progs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("cp", "mount", "umount"):
        (tools / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    monkeypatch.setenv("PATH", str(tools))
    pool = open_pool(tmp_path / "home", size_mb=POOL_MB)
    assert pool.method.startswith("copy (btrfs-progs is not installed")
    pool.create("p/e")
    assert pool.limit("p/e", 10) is not None
    with pytest.raises(PlatformError, match="btrfs mode was requested"):
        open_pool(tmp_path / "other", size_mb=POOL_MB, mode="btrfs")


@needs_btrfs
def test_a_home_on_btrfs_is_used_directly(tmp_path: Path) -> None:
    image, disk = tmp_path / "host.img", tmp_path / "host"
    loop.make_image(image, POOL_MB)
    loop.mount(image, disk)
    try:
        pool = open_pool(disk / "shipway", size_mb=POOL_MB)
        assert pool.method == "btrfs (host filesystem, no quotas)" and pool.atomic_snapshots
        assert any("quotas are off" in w for w in pool.warnings)
        write(pool.create("p/main") / "f", "x")
        assert (pool.clone("p/main", "p/dev") / "f").read_text() == "x"
        assert pool.limit("p/dev", 10) is not None and pool.usage("p/dev") is None
        subprocess.run(["btrfs", "quota", "enable", str(disk)], check=True)  # the admin's choice
        again = open_pool(disk / "shipway", size_mb=POOL_MB)
        assert again.method == "btrfs (host filesystem, full quotas)" and again.warnings
        assert again.limit("p/dev", 10) is None
        assert not (disk / "shipway" / "storage" / "pool.img").exists()
    finally:
        loop.unmount(disk)
        image.unlink()


def test_e2_a_cloned_database_directory_is_scrubbed(pool: Pool) -> None:
    vol = pool.create("proj/main")
    pg, maria, mount = vol / "services" / "db", vol / "services" / "mariadb", vol / "app" / "run"
    for path, text in ((pg / "PG_VERSION", "15"), (pg / "postmaster.pid", "123"),
                       (maria / "aria_log_control", ""), (maria / "host.pid", "456"),
                       (mount / "worker.pid", "789"), (vol / "run" / ".s.PGSQL.5432.lock", "123")):
        write(path, text)
    os.mknod(vol / "run" / ".s.PGSQL.5432", stat.S_IFSOCK | 0o777)
    clone = pool.clone("proj/main", "proj/dev")
    removed = scrub_clone(clone)
    assert [p.relative_to(clone).as_posix() for p in removed] == [
        "run/.s.PGSQL.5432", "run/.s.PGSQL.5432.lock", "services/db/postmaster.pid",
        "services/mariadb/host.pid"]
    assert (clone / "app" / "run" / "worker.pid").exists()  # an app's own file, left be
    assert (pg / "postmaster.pid").exists()  # the parent is untouched


@needs_btrfs
def test_e2_a_snapshot_taken_while_writing_is_point_in_time(btrfs_pool: Pool) -> None:
    pool = btrfs_pool
    log = pool.create("p/main") / "log"
    with open(log, "w") as f:
        for n in range(2000):
            f.write(f"{n}\n")
            if n == 1000:
                f.flush()
                snap = pool.snapshot("p/main", "mid")
    lines = (snap / "log").read_text().splitlines()
    assert lines == [str(n) for n in range(len(lines))] and len(lines) >= 1000
    assert len(log.read_text().splitlines()) == 2000


def test_e2_a_clone_is_given_to_the_new_environment_users(pool: Pool) -> None:
    parent = pool.create("proj/main")
    write(parent / "app" / "uploads" / "a.txt", "x")
    write(parent / "services" / "db" / "PG_VERSION", "15")
    (parent / "app" / "link").symlink_to("/etc/passwd")
    for path in (parent / "app", parent / "app" / "uploads", parent / "app" / "uploads" / "a.txt"):
        os.lchown(path, 61001, 61900)  # the parent's app uid, the shared apps group
    for path in (parent / "services" / "db", parent / "services" / "db" / "PG_VERSION"):
        os.lchown(path, 61002, 61002)
    child = pool.clone("proj/main", "proj/dev")
    assert reown(child, {61001: 62001, 61002: 62002}) == 5
    owners = {p.relative_to(child).as_posix(): (p.lstat().st_uid, p.lstat().st_gid)
              for p in child.rglob("*")}
    assert owners == {"app": (62001, 61900), "app/uploads": (62001, 61900),
                      "app/uploads/a.txt": (62001, 61900), "app/link": (0, 0),
                      "services": (0, 0), "services/db": (62002, 62002),
                      "services/db/PG_VERSION": (62002, 62002)}
    assert (parent / "app" / "uploads" / "a.txt").stat().st_uid == 61001
    assert os.stat("/etc/passwd").st_uid == 0  # links are not followed
