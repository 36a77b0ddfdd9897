"""Second install of unchanged python3 `dependencies` vs the first (B5 cache).

Builds one app twice through the real pipeline (bwrap, build disk, cgroup):
the first build with an empty project cache, the second after a commit that
changes nothing but a README, so the dependency set is the same. Times the
dependency step (from its log line to the next step's) and the whole build.

    sudo .venv/bin/python bench/deps.py [--deps poetry] [--type python:3.11] [--runs 2]

Prints figures; asserts nothing. Needs root and network access to PyPI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from shipway.artifacts.store import ArtifactStore  # noqa: E402
from shipway.build.pipeline import BuildHost, BuildRequest, build_app  # noqa: E402
from shipway.config import load_project  # noqa: E402
from shipway.git.repos import GitObjects  # noqa: E402

UID = 61790


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env=env, check=True).stdout.strip()


def commit(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench")


def build(base: Path, repo: Path) -> tuple[float, float]:
    """(seconds for the dependency step, seconds for the whole build)"""
    stamps: list[tuple[float, str]] = []
    host = BuildHost(store=ArtifactStore(base / "store" / "artifacts", base / "view"),
                     work_root=base / "builds", cache_root=base / "cache", uid=UID, timeout=1800,
                     extra_passthrough=(), home=base / "home")
    sha = git(repo, "rev-parse", "HEAD")
    objects = GitObjects(repo / ".git")
    req = BuildRequest("bench", "entropy", load_project(repo).apps[0], sha, objects.tree_id(sha), {})
    start = time.perf_counter()
    build_app(req, objects, host, lambda line: stamps.append((time.perf_counter(), line)), None)
    total = time.perf_counter() - start
    steps = [(t, line) for t, line in stamps if line.startswith("  ") and not line.startswith("    ")]
    begin = next(t for t, line in steps if "build dependencies" in line)
    end = next(t for t, line in steps if t > begin)
    return end - begin, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deps", default="poetry")
    parser.add_argument("--type", default="python:3.11")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    deps = "".join(f"    {name}: '*'\n" for name in args.deps.split(","))
    config = (f"name: app\ntype: '{args.type}'\ndependencies:\n  python3:\n{deps}"
              "hooks:\n  build: 'true'\nweb:\n  commands:\n    start: sleep infinity\n")
    print(f"dependencies.python3: {args.deps} on {args.type}")
    for run in range(args.runs):
        base = Path(tempfile.mkdtemp(prefix="shipway-bench-deps-", dir="/var/tmp"))
        try:
            repo = base / "repo"
            repo.mkdir()
            git(repo, "init", "-q", "-b", "main")
            commit(repo, {".platform.app.yaml": config, "README": "1"})
            first = build(base, repo)
            commit(repo, {"README": "2"})
            second = build(base, repo)
            cache_mb = (base / "cache" / "bench.img").stat().st_blocks * 512 / 2**20
        finally:
            shutil.rmtree(base, ignore_errors=True)
        print(f"run {run + 1}: dependency step first {first[0]:.1f} s, second {second[0]:.1f} s "
              f"(ratio {second[0] / first[0]:.2f}); whole build first {first[1]:.1f} s, "
              f"second {second[1]:.1f} s; cache image {cache_mb:.0f} MB on disk")


if __name__ == "__main__":
    main()
