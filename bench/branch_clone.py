"""Branching cost (E2) and the pre-deploy snapshot (rollback with data): a
volume holding 5 GB of mount files on a loop-mounted btrfs pool, cloned and
snapshotted, against `cp -a` of the same data on the same disk.

    sudo .venv/bin/python bench/branch_clone.py [--gb 5] [--runs 5] [--dir /var/tmp]

Prints figures; asserts nothing. Needs root (mount) and btrfs-progs; needs
about 4×GB of free space on --dir's disk at the peak, all freed at the end.
Every timed copy ends with `sync`, so it counts until the data is on disk.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from shipway.storage import Pool, open_pool, reown, scrub_clone  # noqa: E402

MB = 1 << 20
CHUNK = 4 * MB
# Random content is cut from one 64 MB block of /dev/urandom (reading 5 GB
# from it takes ~40 s here); neither filesystem compresses or deduplicates,
# so every block written is a real block.
NOISE = os.urandom(64 * MB)
ZEROS = bytes(CHUNK)


def plan(total: int, rng: random.Random) -> Iterator[tuple[str, int, bool]]:
    """(path, size, random?) adding up to about `total` bytes: 30% in 192 MB
    random files, 30% in 24 MB zero-filled ones, 20% in 1–4 MB files and 20%
    in 1–100 kB files (half random, half zeros), 500 to a folder."""
    shares = [("big", 0.3, lambda: 192 * MB, lambda i: True),
              ("zero", 0.3, lambda: 24 * MB, lambda i: False),
              ("medium", 0.2, lambda: rng.randint(MB, 4 * MB), lambda i: i % 2 == 0),
              ("small", 0.2, lambda: rng.randint(1024, 100 * 1024), lambda i: i % 2 == 0)]
    for folder, share, size_of, noisy in shares:
        budget, i = int(total * share), 0
        while budget > 0:
            size = min(size_of(), budget)
            yield f"{folder}/d{i // 500:03d}/f{i:05d}.bin", size, noisy(i)
            budget -= size
            i += 1


def write_file(path: Path, size: int, noisy: bool, rng: random.Random) -> None:
    with open(path, "wb") as f:
        while size > 0:
            n = min(size, CHUNK)
            start = rng.randrange(len(NOISE) - n) if noisy else 0
            f.write(NOISE[start:start + n] if noisy else ZEROS[:n])
            size -= n


def fill(root: Path, total: int) -> tuple[int, int]:
    rng = random.Random(5)
    files = written = 0
    for rel, size, noisy in plan(total, rng):
        path = root / "app" / "files" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, size, noisy, rng)
        files, written = files + 1, written + size
    return files, written


def sync() -> None:
    subprocess.run(["sync"], check=True)


def timed(fn: Callable[[], object], *, then_sync: bool = True) -> float:
    start = time.perf_counter()
    fn()
    if then_sync:
        sync()
    return time.perf_counter() - start


def cp(src: Path, dst: Path, *extra: str) -> Callable[[], object]:
    def copy() -> None:
        proc = subprocess.run(["cp", "-a", *extra, str(src), str(dst)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"cp failed: {proc.stderr[:500]}")
    return copy


def runs(n: int, fn: Callable[[int], float]) -> str:
    times = [fn(i) for i in range(n)]
    return f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"


def dirty(pool: Pool, mb: int, tag: str) -> None:
    """`mb` MB written to the parent and not yet on disk, as a busy app leaves."""
    rng = random.Random(tag)
    write_file(pool.path("bench/main") / f"dirty-{tag}.bin", mb * MB, True, rng)


def flushed(pool: Pool, i: int) -> float:
    dirty(pool, 256, f"f{i}")
    pool.flush()
    return time_of(lambda: pool.snapshot("bench/main", f"flushed{i}"))


def flush_only(pool: Pool, i: int) -> float:
    dirty(pool, 256, f"g{i}")
    return time_of(pool.flush)


def time_of(fn: Callable[[], object]) -> float:
    return timed(fn, then_sync=False)


def bench_snapshots(pool: Pool, n: int) -> list[tuple[str, str]]:
    rows = [("pre-deploy snapshot, parent idle",
             runs(n, lambda i: time_of(lambda: pool.snapshot("bench/main", f"idle{i}"))))]
    for mb in (64, 256):
        def busy(i: int, mb: int = mb) -> float:
            dirty(pool, mb, f"{mb}-{i}")
            return time_of(lambda: pool.snapshot("bench/main", f"dirty{mb}-{i}"))
        rows.append((f"pre-deploy snapshot, {mb} MB unsynced writes in the parent", runs(n, busy)))
    rows.append(("  the same 256 MB, `flush()` before the hold (not timed), then the snapshot",
                 runs(n, lambda i: flushed(pool, i))))
    rows.append(("  … and the `flush()` itself, outside the hold", runs(n, lambda i: flush_only(pool, i))))
    rows.append(("restore a snapshot (rollback with data)",
                 runs(n, lambda i: time_of(lambda: pool.restore(f"idle{i}", "bench/main")))))
    pruned: list[str] = []
    seconds = time_of(lambda: pruned.extend(pool.prune("bench/main", 0)))
    rows.append((f"prune all those snapshots ({len(pruned)})", f"{seconds * 1000:.1f} ms"))
    for f in pool.path("bench/main").glob("dirty-*"):
        f.unlink()
    rows.append(("settle: wait until their space is free, trim the image", f"{time_of(pool.settle):.2f} s"))
    return rows


def bench_deploys(pool: Pool, n: int) -> tuple[str, str]:
    """Deploy after deploy: the app writes 32 MB and rewrites 300 small
    files, `flush()`, the pre-deploy snapshot (timed), prune to the last 2."""
    small = sorted(pool.path("bench/main").glob("app/files/small/*/*.bin"))
    times = []
    for i in range(n):
        dirty(pool, 32, f"deploy{i}")
        for path in small[i * 300:(i + 1) * 300]:
            path.write_bytes(NOISE[i * 4096:(i + 1) * 4096])
        pool.flush()
        times.append(time_of(lambda i=i: pool.snapshot("bench/main", f"deploy{i}")))
        pool.prune("bench/main", keep=2)
    pool.prune("bench/main", keep=0)
    return (f"pre-deploy snapshot in {n} deploys in a row, each pruning to the last 2",
            f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")


def snapshot_cost(pool: Pool) -> str:
    """What a kept snapshot costs once the parent has deleted ~64 MB of
    files and written 64 MB of new ones after it."""
    sync()
    before = shutil.disk_usage(pool.root).used
    pool.snapshot("bench/main", "cost")
    deleted = 0
    for path in sorted(pool.path("bench/main").glob("app/files/medium/*/*.bin")):
        if deleted >= 64 * MB:
            break
        deleted += path.stat().st_size
        path.unlink()
    (pool.path("bench/main") / "new.bin").write_bytes(NOISE)
    sync()
    grew = shutil.disk_usage(pool.root).used - before
    pool.delete_snapshot("bench/main@cost")
    # Simple quotas charge blocks to whoever wrote them, so the snapshot's own
    # quota figure says nothing here; the pool's growth does.
    return (f"the pool grew by {grew / MB:.0f} MB when the parent deleted {deleted / MB:.0f} MB and "
            "wrote 64 MB after it: the snapshot holds just the deleted blocks")


def set_quotas(pool: Pool, wanted: str) -> None:
    """Compare quota modes: the pool turns on simple quotas where it can."""
    if wanted == "simple":
        return
    subprocess.run(["btrfs", "quota", "disable", str(pool.root)], check=True)
    if wanted == "full":
        subprocess.run(["btrfs", "quota", "enable", str(pool.root)], check=True)
    pool.backend.quotas = wanted == "full"  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=5)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"))
    parser.add_argument("--quotas", choices=["simple", "full", "off"], default="simple")
    parser.add_argument("--cp-never", action="store_true",
                        help="also time `cp -a --reflink=never` inside the pool (slow: ~90 s for 5 GB)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shipway-bench-clone-", dir=args.dir))
    pools: list[Pool] = []
    started = time.perf_counter()
    try:
        run_all(work, args, pools)
    finally:
        for pool in pools:
            pool.unmount()
        shutil.rmtree(work, ignore_errors=True)
        print(f"\ncleaned up {work}; {time.perf_counter() - started:.0f} s in all")


def run_all(work: Path, args: argparse.Namespace, pools: list[Pool]) -> None:
    total = int(args.gb * 1024 * MB)
    # The data, one full copy, the runs' unsynced writes (~830 MB each), room for metadata.
    size_mb = int(total * 2.3 / MB) + args.runs * 1024 + 2048
    pool = open_pool(work / "home", size_mb=size_mb, mode="btrfs")
    pools.append(pool)
    set_quotas(pool, args.quotas)
    print(f"pool: {pool.method}; quotas for this run: {args.quotas}")
    started = time.perf_counter()
    files, written = fill(pool.create("bench/main"), total)
    sync()
    seconds = time.perf_counter() - started
    print(f"parent: {files} files, {written / 2**30:.2f} GiB, written in {seconds:.0f} s")
    reopen = time_of(lambda: open_pool(work / "home", size_mb=size_mb))
    clones = [time_of(lambda i=i: pool.clone("bench/main", f"bench/child{i}")) for i in range(args.runs)]
    rows = [("re-open of the mounted pool (control-plane start)", f"{reopen * 1000:.1f} ms"),
            ("clone (branch), parent idle", f"median {statistics.median(clones) * 1000:.1f} ms, "
                                            f"max {max(clones) * 1000:.1f} ms")]
    removed: list[Path] = []
    scrub = time_of(lambda: removed.extend(scrub_clone(pool.path("bench/child0"))))
    rows.append(("scrub_clone of one clone (walks every folder)", f"{scrub * 1000:.1f} ms"))
    changed: list[int] = []
    seconds = time_of(lambda: changed.append(reown(pool.path("bench/child1"), {0: 61234})))
    rows.append((f"reown of one clone to new uids ({changed[0]} entries)", f"{seconds * 1000:.0f} ms"))
    for i in range(args.runs):
        pool.delete(f"bench/child{i}")
    rows += bench_snapshots(pool, args.runs)
    rows.append(bench_deploys(pool, 8))
    rows.append(("space a kept snapshot costs", snapshot_cost(pool)))
    src = pool.path("bench/main")
    rows.append(("`cp -a` inside the btrfs pool (coreutils 9 reflinks by default)",
                 f"{timed(cp(src, pool.root / 'cp-auto')):.2f} s"))
    shutil.rmtree(pool.root / "cp-auto")
    if args.cp_never:
        never = timed(cp(src, pool.root / "cp-never", "--reflink=never"))
        rows.append(("`cp -a --reflink=never` inside the btrfs pool", f"{never:.2f} s"))
        shutil.rmtree(pool.root / "cp-never")
    copied = bench_copy_mode(work, src, pools)
    rows.append(("copy-mode clone = `cp -a` on the host's ext4, same disk", f"{copied:.2f} s"))
    rows.append(("ratio: `cp -a` on ext4 / btrfs clone", f"{copied / statistics.median(clones):,.0f}×"))
    print("\n| operation | time |\n|---|---|")
    for name, figure in rows:
        print(f"| {name} | {figure} |")


def bench_copy_mode(work: Path, src: Path, pools: list[Pool]) -> float:
    """The fallback: the same data as plain directories on the host's ext4."""
    pool = open_pool(work / "home-copy", size_mb=1024, mode="copy")
    pools.append(pool)
    subprocess.run(["cp", "-a", "--reflink=never", f"{src}/.", str(pool.create("bench/main"))], check=True)
    sync()
    seconds = timed(lambda: pool.clone("bench/main", "bench/child"))
    pool.delete("bench/child")
    pool.delete("bench/main")
    return seconds


if __name__ == "__main__":
    main()
