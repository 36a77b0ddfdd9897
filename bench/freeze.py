"""Freeze throughput (B7): a 20 000-file, 500 MB build tree on a build disk
(loop-mounted ext4, as builds have) frozen into the content-addressed store,
against `cp -a` of the same tree to the same host disk; then the store's
growth when a second build differs by one file.

    sudo .venv/bin/python bench/freeze.py [--files 20000] [--mb 500] [--runs 3]

Prints figures; asserts nothing. Needs root (mount).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from shipway.artifacts.store import ArtifactStore  # noqa: E402
from shipway.build.disk import close_disk, open_disk  # noqa: E402


def make_tree(root: Path, files: int, total_mb: int, seed: int = 1) -> int:
    """`files` files of log-uniform sizes (1 kB–256 kB) adding up to about
    `total_mb`, 100 to a directory, random content (nothing to deduplicate)."""
    rng = random.Random(seed)
    sizes = [int(2 ** rng.uniform(10, 18)) for _ in range(files)]
    scale = total_mb * 2**20 / sum(sizes)
    written = 0
    for i, size in enumerate(sizes):
        folder = root / f"pkg{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(max(1, int(size * scale)))
        (folder / f"mod{i % 100:02d}.py").write_bytes(data)
        written += len(data)
    return written


def du(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def timed(fn: object) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children)"""
    subprocess.run(["sync"], check=True)
    start, cpu = time.perf_counter(), _cpu()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start, _cpu() - cpu


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="shipway-bench-freeze-", dir="/var/tmp"))
    disk = open_disk(base / "build", base / "none.img", 4096, os.getuid(), print)
    try:
        run(base, disk.app, args)
    finally:
        close_disk(disk)
        shutil.rmtree(base, ignore_errors=True)


def run(base: Path, src: Path, args: argparse.Namespace) -> None:
    size = make_tree(src, args.files, args.mb)
    mb = size / 2**20
    print(f"tree: {args.files} files, {mb:.0f} MB, on a loop-mounted ext4 build disk")
    freezes, copies = [], []
    for i in range(args.runs):
        store = ArtifactStore(base / f"store{i}" / "artifacts", base / f"view{i}")
        freezes.append(timed(lambda s=store: s.freeze(src, "0" * 32, {}, (), print)))
        copies.append(timed(lambda i=i: subprocess.run(["cp", "-a", str(src), str(base / f"cp{i}")],
                                                         check=True)))
        shutil.rmtree(base / f"cp{i}")
        if i:
            shutil.rmtree(base / f"store{i}")
    report("freeze", freezes, mb)
    report("cp -a ", copies, mb)
    pairs = [c[0] / f[0] for f, c in zip(freezes, copies, strict=True)]
    print(f"throughput ratio freeze / cp -a, run by run (wall): {', '.join(f'{r:.2f}' for r in pairs)}; "
          f"median {statistics.median(pairs):.2f}")
    cpu = statistics.median(c[1] for c in copies) / statistics.median(f[1] for f in freezes)
    print(f"CPU-time ratio cp -a / freeze (medians): {cpu:.2f}")
    store = ArtifactStore(base / "store0" / "artifacts", base / "view0")
    before = du(store.root)
    (src / "pkg007" / "mod42.py").write_bytes(os.urandom(30_000))
    again, _ = timed(lambda: store.freeze(src, "1" * 32, {}, (), print))
    growth = du(store.root) - before
    print(f"second freeze, one 30 kB file changed: {again:.2f} s, store grew by {growth / 1024:.0f} kB "
          f"({growth / size * 100:.3f} % of the tree)")


def report(name: str, runs: list[tuple[float, float]], mb: float) -> None:
    wall = statistics.median(w for w, _ in runs)
    print(f"{name}: median {wall:.2f} s = {mb / wall:.0f} MB/s  "
          f"(wall: {', '.join(f'{w:.2f}' for w, _ in runs)}; CPU: {', '.join(f'{c:.2f}' for _, c in runs)})")


if __name__ == "__main__":
    main()
