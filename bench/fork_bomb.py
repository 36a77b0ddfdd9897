"""A fork-bombing build hook against the build's pids limit (S5): the most
processes it reached, and how long until the build was refused and every
process of it was gone.

    sudo .venv/bin/python bench/fork_bomb.py [--limit 512] [--runs 3]

A real build (bwrap, loop disk, memory and pids cgroups) as uid 61799 runs
the hook `b() { b | b & }; b; sleep 100`. A sampler counts that uid's live
processes in /proc every ~5 ms and reads the build cgroup's pids.current and
pids.peak; the peak is also read as the cgroup is removed, since the bomb may
live less long than a sample. Prints figures; asserts nothing. Needs root.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.e2e.conftest import processes_of  # noqa: E402
from tests.e2e.test_build_kit import Project, app_yaml  # noqa: E402

from shipway.errors import BuildFailed  # noqa: E402
from shipway.sandbox import pids  # noqa: E402

UID = 61799
CGROUPS = Path("/sys/fs/cgroup/pids")
PEAKS: list[int] = []  # pids.peak of each build cgroup as it is removed
_remove = pids.PidsCgroup.remove


def _remove_noting_peak(self: pids.PidsCgroup, timeout: float = 5.0) -> None:
    PEAKS.append(self.peak() or 0)
    _remove(self, timeout)


pids.PidsCgroup.remove = _remove_noting_peak  # type: ignore[method-assign]


class Sampler:
    def __init__(self) -> None:
        self.most = 0
        self.cgroup_peak = 0
        self.at_limit: float | None = None  # first time the count reached the limit
        self.hook_started: float | None = None
        self.done = threading.Event()

    def run(self, limit: int, lines: list[str]) -> None:
        while not self.done.is_set():
            if self.hook_started is None and any("build hook" in line for line in lines):
                self.hook_started = time.monotonic()
            count = len(processes_of(UID))
            self.most = max(self.most, count)
            for group in CGROUPS.glob("shipway-*-build-*"):
                self._read(group, limit)
            time.sleep(0.005)

    def _read(self, group: Path, limit: int) -> None:
        try:
            if int((group / "pids.max").read_text()) != limit:
                return  # another session's build
            current = int((group / "pids.current").read_text())
            peak = int((group / "pids.peak").read_text())
        except (OSError, ValueError):
            return
        self.cgroup_peak = max(self.cgroup_peak, peak, current)
        if current >= limit and self.at_limit is None:
            self.at_limit = time.monotonic()


def one_run(base: Path, limit: int) -> dict[str, float]:
    project = Project(base, uid=UID, pids_max=limit)
    project.commit({".platform.app.yaml": app_yaml("b() { b | b & }; b; sleep 100")})
    sampler = Sampler()
    thread = threading.Thread(target=sampler.run, args=(limit, project.lines))
    thread.start()
    started = time.monotonic()
    try:
        project.build()
        message = "the build was NOT refused"
    except BuildFailed as exc:
        message = str(exc)
    refused = time.monotonic()
    sampler.cgroup_peak = max(sampler.cgroup_peak, PEAKS[-1] if PEAKS else 0)
    left = len(processes_of(UID))  # one /proc scan: itself ~10-90 ms here
    while processes_of(UID):
        time.sleep(0.001)
    gone = time.monotonic()
    sampler.done.set()
    thread.join()
    hook_started = sampler.hook_started or started
    return {"most": sampler.most, "peak": sampler.cgroup_peak, "build": refused - started,
            "hook_to_refused": refused - hook_started, "refused_to_gone": gone - refused, "left": left,
            "message": message}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="fork-bomb-") as tmp:
            run = one_run(Path(tmp), args.limit)
        runs.append(run)
        print(f"run {i + 1}: cgroup peak {run['peak']} processes (most of the build uid seen "
              f"in /proc: {run['most']}); refused {run['hook_to_refused']:.2f} s after the hook "
              f"started ({run['build']:.2f} s after the build did); {run['left']} process(es) of "
              f"the uid left when refused, none {run['refused_to_gone'] * 1000:.0f} ms later")
    print(f"message: {runs[-1]['message']}")
    print(f"limit {args.limit}: most processes {max(r['peak'] for r in runs)}; median hook start "
          f"to refused {statistics.median(r['hook_to_refused'] for r in runs):.2f} s; median "
          f"refused to all gone {statistics.median(r['refused_to_gone'] for r in runs) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
