"""The console's two W5 figures against a real `shipway serve` (issue 16):

1. the environment tree of a project with 100 environments: the server's own time per page
   (the console's Server-Timing header: API calls, role checks, template) and the
   client's time over HTTPS on loopback, median and max of N loads;
2. how long a log line takes to reach a client of the console's live stream: a build hook
   prints `tick <epoch>` every 0.2 s; the SSE reader (the stream the browser's EventSource
   reads) subtracts that time from its clock when the line arrives.

Run as root: .venv/bin/python bench/console.py [--loads 20]. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import commit, git, push  # noqa: E402
from tests.e2e.console_helpers import ADMIN, console_platform, session_client  # noqa: E402

TICK = re.compile(r"tick (\d+\.\d+)")
TICKS = 'for i in $(seq 1 25); do echo "tick $(date +%s.%N)"; sleep 0.2; done'


def tree_figures(sw: object, base: str, repo: Path, loads: int) -> None:
    refs = [f"main:refs/heads/b{i:03}" for i in range(99)]
    out = git(repo, "push", "-q", "shipway", *refs, check=False)
    assert out.returncode == 0, out.stderr
    client, _ = session_client(sw, base, ADMIN)  # type: ignore[arg-type]
    server, total = [], []
    with closing(client):
        page = client.get("/console/p/shop")
        count = page.text.count('data-env="')
        for _ in range(loads):
            started = time.perf_counter()
            page = client.get("/console/p/shop")
            total.append((time.perf_counter() - started) * 1000)
            server.append(float(page.headers["server-timing"].split("dur=")[1]))
    print(f"W5 tree: {count} environments, {loads} loads: server median {statistics.median(server):.1f} ms,"
          f" max {max(server):.1f} ms; client over HTTPS median {statistics.median(total):.1f} ms,"
          f" max {max(total):.1f} ms (must hold: server < 200 ms)")


def log_figures(sw: object, base: str, repo: Path) -> None:
    config = repo / ".platform.app.yaml"
    config.write_text(config.read_text().replace('echo "building stdlib app"', TICKS))
    commit(repo, "ticks")
    pusher = threading.Thread(target=push, args=(repo, "shipway"))
    pusher.start()
    client, _ = session_client(sw, base, ADMIN)  # type: ignore[arg-type]
    latencies: list[float] = []
    with closing(client):
        activity = _running(client)
        with client.stream("GET", f"/console/a/{activity}/stream") as stream:
            for line in stream.iter_lines():
                found = TICK.search(line)
                if line.startswith("data: ") and found:
                    latencies.append((time.time() - float(found.group(1))) * 1000)
    pusher.join()
    latencies.sort()
    print(f"W5 log lines: {len(latencies)} lines over the console's SSE stream: median"
          f" {statistics.median(latencies):.0f} ms, p90 {latencies[int(len(latencies) * 0.9)]:.0f} ms,"
          f" max {latencies[-1]:.0f} ms after the hook wrote them (must hold: < 1000 ms)")


def _running(client: object) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = client.get("/console/p/shop/feed").text  # type: ignore[attr-defined]
        for item in found.split("<li>")[1:]:
            if "in_progress" in item or "pending" in item:
                return item.split("/a/", 1)[1].split('"', 1)[0]
        time.sleep(0.05)
    raise SystemExit("no running activity appeared")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    with console_platform(Path(tempfile.mkdtemp())) as (sw, base, repo):
        tree_figures(sw, base, repo, args.loads)
        log_figures(sw, base, repo)


if __name__ == "__main__":
    main()
