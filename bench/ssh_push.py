"""Push over SSH vs push to the local path (issue 10, A2; must-hold 6, SSH half).

The same commit is pushed, alternately by the local path (root) and over SSH
(a project admin's key through shipway's own sshd, the forced command and the
session socket), each time to a fresh branch made active by the push
(`-o environment.status=active`), so every push deploys one environment from the
reused build and the two paths do the same work. Also: `git ls-remote` both ways
(the connection alone).

Run as root: .venv/bin/python bench/ssh_push.py [--rounds 5]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import STDLIB, free_port, git, make_repo, running_shipway  # noqa: E402
from tests.e2e.sshkit import add_user  # noqa: E402


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=600)
    took = time.monotonic() - started
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")
    return took


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--rounds", type=int, default=5)
    opts = args.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ssh-bench-"))
    with running_shipway({"SHIPWAY_SSH_PORT": str(free_port())}) as sw:
        local = sw.create_project("bench")
        repo = make_repo(work / "repo", STDLIB)
        key = add_user(sw, "ops@example.com", "bench", ["admin"], work / "keys")
        remote, env = key.remote("bench"), key.git_env()
        git(repo, "push", local, "HEAD:main")  # the build every later push reuses
        times: dict[str, list[float]] = {"local": [], "ssh": []}
        lsr: dict[str, list[float]] = {"local": [], "ssh": []}
        for i in range(opts.rounds):
            for how, url in (("local", local), ("ssh", remote)):
                push = ["git", "-C", str(repo), "push", "-o", "environment.status=active", url,
                        f"HEAD:refs/heads/{how}-{i}"]
                times[how].append(timed(push, env))
                lsr[how].append(timed(["git", "ls-remote", url], env))
        for how in ("local", "ssh"):
            print(f"{how:5}: push+deploy median {statistics.median(times[how]):.3f} s "
                  f"(min {min(times[how]):.3f}, max {max(times[how]):.3f}); "
                  f"ls-remote median {statistics.median(lsr[how]) * 1000:.0f} ms")
        diffs = [s - loc for s, loc in zip(times["ssh"], times["local"], strict=True)]
        print(f"ssh - local, per round: median {statistics.median(diffs):+.3f} s "
              f"(min {min(diffs):+.3f}, max {max(diffs):+.3f}); target < 0.3 s")
        gap = statistics.median(lsr["ssh"]) - statistics.median(lsr["local"])
        print(f"ls-remote ssh - local: {gap * 1000:+.0f} ms (the SSH connection alone)")


if __name__ == "__main__":
    main()
