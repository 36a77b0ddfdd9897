"""Push-to-live times (issues 2 and 3): a full build, a reused build, a redeploy.

Prints, for the Python example (pip-installs Flask and gunicorn in its build
hook) and for a dependency-free app:
- first push: git push to the new release answering through the router;
- a push of an unchanged tree (empty commit): reuse decision + deploy;
- `shipway redeploy`.
Run as root: .venv/bin/python bench/push_to_live.py
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import STDLIB, Shipway, commit, make_repo, push, running_shipway  # noqa: E402

RUNS = 3


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def measure(sw: Shipway, project: str, repo: Path) -> dict[str, float]:
    remote = sw.create_project(project)
    first = timed(lambda: _ok(push(repo, remote)))
    url = sw.url(project)
    assert sw.fetch(url)[0] == 200
    reused, redeploys = [], []
    for _ in range(RUNS):
        commit(repo, "no change", "--allow-empty")
        reused.append(timed(lambda: _ok(push(repo, remote))))
        redeploys.append(timed(lambda: sw.cli("redeploy", "-p", project, "-e", "main")))
    assert sw.fetch(url)[0] == 200
    return {"first": first, "reused": statistics.median(reused),
            "redeploy": statistics.median(redeploys)}


def _ok(proc) -> None:  # type: ignore[no-untyped-def]
    assert proc.returncode == 0, proc.stdout + proc.stderr


def main() -> None:
    tmp = Path(ROOT / "bench" / ".work")
    shutil.rmtree(tmp, ignore_errors=True)
    with running_shipway() as sw:
        flask = measure(sw, "flask", make_repo(tmp / "flask", "python-flask"))
        stdlib = measure(sw, "plain", make_repo(tmp / "plain", STDLIB))
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'app':<14}{'first push':>12}{'reused push':>13}{'redeploy':>10}{'reused/first':>14}")
    for name, r in (("python-flask", flask), ("stdlib", stdlib)):
        print(f"{name:<14}{r['first']:>11.2f}s{r['reused']:>12.2f}s{r['redeploy']:>9.2f}s"
              f"{r['reused'] / r['first']:>14.2f}")
    print(f"(medians of {RUNS} runs for reused pushes and redeploys; the stdlib app has a "
          "3 s post_deploy hook, included in its times)")


if __name__ == "__main__":
    main()
