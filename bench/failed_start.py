"""S6: the time from a failed start to the previous release answering again.

A project serves v1; v2's app exits at start. For each run, the clock starts
at the new app's first exit (its supervisor records it in the run directory:
by then the previous release is stopped and requests are held) and stops when
a request sent at that moment is answered through the router by v1.
Most of it is the supervisor's first restart back-off (1 s): one restart is
allowed before the start counts as failed (deploy/starting.py).
Run as root: .venv/bin/python bench/failed_start.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import STDLIB, commit, git, make_repo, push, running_shipway  # noqa: E402

RUNS = 3
CRASH = 'if __name__ == "__main__":\n    sys.exit(4)\n'


def main() -> None:
    tmp = ROOT / "bench" / ".work"
    shutil.rmtree(tmp, ignore_errors=True)
    figures = []
    with running_shipway() as sw:
        remote = sw.create_project("bench")
        repo = make_repo(tmp / "repo", STDLIB)
        assert push(repo, remote).returncode == 0
        url = sw.url("bench")
        exits = sw.home / "run" / "bench" / "main" / "app" / "web" / "exits"
        app = repo / "app.py"
        good = app.read_text()
        for run in range(RUNS):
            app.write_text(good.replace('if __name__ == "__main__":\n', CRASH, 1)
                           + f"# run {run}\n")
            commit(repo, f"crash {run}")
            pushing = subprocess.Popen(["git", "-C", str(repo), "push", remote, "HEAD:main"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            while not exits.exists():
                time.sleep(0.01)
            failed_at = time.monotonic()
            code, body = sw.fetch(url, timeout=120)
            figures.append(time.monotonic() - failed_at)
            out = pushing.communicate(timeout=120)[0]
            assert pushing.returncode != 0 and "did not start" in out, out
            assert code == 200 and body.startswith("stdlib v1"), body
            git(repo, "reset", "-q", "--hard", "HEAD~1")
            print(f"run {run + 1}: {figures[-1]:.2f} s", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"failed start -> previous release answering: median {statistics.median(figures):.2f} s, "
          f"max {max(figures):.2f} s over {RUNS} runs")


if __name__ == "__main__":
    main()
