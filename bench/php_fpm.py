"""PHP-FPM behind the router (issue 12, C6): requests/s and latency.

Deploys examples/php (plus a one-line ping.php, and an http route so wrk
needs no TLS) on a fresh shipway and runs wrk through the router against:
- a static file (/css/site.css): served by Caddy, PHP never involved;
- /ping.php: FastCGI to PHP-FPM, a script that only echoes;
- /some/pretty/path: passthru to the front controller, which connects to
  MariaDB and queries its version.
Also prints the push-to-live time of the first deploy.
Run as root: .venv/bin/python bench/php_fpm.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import EXAMPLES, make_repo, push, running_shipway  # noqa: E402

THREADS, CONNECTIONS, SECONDS = 2, 16, 6
ROUTES = '"http://{default}/":\n  type: upstream\n  upstream: "app:http"\n'
PATHS = {"static file": "/css/site.css", "ping.php (FPM)": "/ping.php",
         "front controller + MariaDB": "/some/pretty/path"}


def wrk(port: int, host: str, path: str) -> tuple[float, str, str]:
    out = subprocess.run(
        ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency",
         "-H", f"Host: {host}", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)[1]  # type: ignore[index]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)[1]  # type: ignore[index]
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors for {path}:\n{out}")
    return rps, p50, p99


def main() -> None:
    work = ROOT / "bench" / ".work-php"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(EXAMPLES / "php", work / "repo")
    (work / "repo" / ".platform" / "routes.yaml").write_text(ROUTES)
    (work / "repo" / "public" / "ping.php").write_text("<?php echo 'ok';\n")
    repo = make_repo(work / "repo")
    with running_shipway() as sw:
        remote = sw.create_project("bench")
        started = time.monotonic()
        out = push(repo, remote)
        first = time.monotonic() - started
        assert out.returncode == 0, out.stdout + out.stderr
        url = sw.url("bench")
        host = url.split("://", 1)[1].split("/", 1)[0].split(":")[0]
        port = int(sw.env["SHIPWAY_HTTP_PORT"])
        figures = {name: wrk(port, host, path) for name, path in PATHS.items()}
    shutil.rmtree(work, ignore_errors=True)
    print(f"first push to live (build, MariaDB, FPM, 2 s deploy hook): {first:.1f} s")
    print(f"wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s through the router")
    print(f"{'target':<28}{'requests/s':>12}{'p50':>10}{'p99':>10}")
    for name, (rps, p50, p99) in figures.items():
        print(f"{name:<28}{rps:>12.0f}{p50:>10}{p99:>10}")


if __name__ == "__main__":
    main()
