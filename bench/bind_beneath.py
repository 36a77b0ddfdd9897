"""What pinning mount binds by fd costs a sandbox start (S1): the same
sandboxed `/bin/true` with 3 writable mounts, bound by name (`--bind SRC`,
as before) and through bindexec.py (a Python start that opens each mount
beneath its base with openat2, then `--bind-fd`). Also the cost of
making the mount directories (beneath.make_dirs) against Path.mkdir+chown.

    sudo .venv/bin/python bench/bind_beneath.py [--runs 30]

Prints figures; asserts nothing. Needs root and bwrap.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from shipway.sandbox import (
    beneath,  # noqa: E402
    envfd,  # noqa: E402
)
from shipway.sandbox.spec import Bind, SandboxSpec, bwrap_command  # noqa: E402

UID = 61999


def spec(base: Path, app: Path, pinned: bool) -> SandboxSpec:
    binds = tuple(Bind(base / name, f"/app/{name}", writable=True, beneath=base if pinned else None)
                  for name in ("data", "data/inner", "cache"))
    return SandboxSpec(command=("/bin/true",), app_dir=app, app_writable=False, uid=UID, gid=UID,
                       env={"PATH": "/usr/bin:/bin"}, binds=binds)


def timed(spec: SandboxSpec, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        command = bwrap_command(spec)
        with envfd.passed(command.argv, command.env) as (argv, env, fds):
            subprocess.run(argv, env=env, pass_fds=fds, check=True)
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    work = Path(tempfile.mkdtemp(prefix="bench-beneath-"))
    try:
        base, app = work / "base", work / "app"
        for path in (base / "data/inner", base / "cache", app / "data", app / "cache"):
            path.mkdir(parents=True)
        for label, pinned in (("by name (--bind)", False), ("pinned (bindexec --bind-fd)", True)):
            times = timed(spec(base, app, pinned), runs)
            print(f"sandbox start, 3 mounts, {label}: median {statistics.median(times) * 1000:.1f} ms "
                  f"(min {min(times) * 1000:.1f}, {runs} runs)")
        for label, make in (
            ("Path.mkdir + shutil.chown", lambda rel: (Path(base, rel).mkdir(parents=True, exist_ok=True),
                                                       shutil.chown(base / rel, UID, UID))),
            ("beneath.make_dirs", lambda rel: beneath.make_dirs(base, rel, owner=(UID, UID))),
        ):
            started = time.perf_counter()
            for _ in range(1000):
                make("data/inner/deep")
            print(f"make a 3-level mount dir (exists), {label}: "
                  f"{(time.perf_counter() - started) * 1000:.1f} µs each")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
