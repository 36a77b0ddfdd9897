"""Requests lost to router config changes: what activating one environment costs the others.

Runs a real Caddy (as its own uid, like `shipway serve`), keeps one client loop on
plain HTTP and one on HTTPS (a new connection per request, as curl does), and loads
a changed config every 0.1 s. Prints failed requests per reload for the two ways the
router can own its ports: `inherited` (the control plane binds them and hands Caddy
the sockets, what shipway does) and `bound` (Caddy binds them itself, SO_REUSEPORT).

Run as root: .venv/bin/python bench/router_reload.py [--reloads 80]
"""

from __future__ import annotations

import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import free_port  # noqa: E402

from shipway.router.caddy import Caddy  # noqa: E402
from shipway.router.caddyconfig import render  # noqa: E402
from shipway.router.table import Site, Upstream  # noqa: E402

ROUTER_UID = 3_950_000 + os.getpid() % 1000


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def run(mode: str, reloads: int, upstream: int) -> tuple[int, Counter[str]]:
    base = Path(tempfile.mkdtemp(prefix="router-reload-"))
    base.chmod(0o755)
    http_port, https_port = free_port(), free_port()
    listen = [("127.0.0.1", http_port), ("127.0.0.1", https_port)] if mode == "inherited" else []
    caddy = Caddy(base / "router", run_as=ROUTER_UID, listen=listen)
    caddy.ensure_running()
    addresses = ({"http": caddy.listen_address("127.0.0.1", http_port),
                  "https": caddy.listen_address("127.0.0.1", https_port)} if listen else None)

    def config(extra_hosts: int) -> dict[str, object]:
        sites = [Site(scheme, "a.test", "/", Upstream(f"127.0.0.1:{upstream}"))
                 for scheme in ("http", "https")]
        sites += [Site("http", f"env{i}.test", "/", Upstream(f"127.0.0.1:{upstream}"))
                  for i in range(extra_hosts)]
        return render(sites, http_port=http_port, https_port=https_port, listen_host="127.0.0.1",
                      admin_socket=caddy.admin_socket, storage_dir=caddy.storage_dir,
                      hold_seconds=30, access_log=None, listen=addresses)

    caddy.load(config(0))
    time.sleep(1)
    stop = threading.Event()
    failures: Counter[str] = Counter()
    sent = [0]

    def loop(url: str) -> None:
        while not stop.is_set():
            proc = subprocess.run(
                ["curl", "-sS", "-k", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                 "--resolve", f"a.test:{http_port}:127.0.0.1",
                 "--resolve", f"a.test:{https_port}:127.0.0.1", url],
                capture_output=True, text=True, check=False)
            sent[0] += 1
            if proc.stdout != "200":
                failures[f"{url.split(':')[0]}: {proc.stderr.strip() or proc.stdout}"] += 1

    loops = [threading.Thread(target=loop, args=(url,)) for url in
             (f"http://a.test:{http_port}/", f"https://a.test:{https_port}/")]
    for thread in loops:
        thread.start()
    for i in range(reloads):
        caddy.load(config(i % 2 + 1))
        time.sleep(0.1)
    stop.set()
    for thread in loops:
        thread.join()
    caddy.stop()
    return sent[0], failures


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--reloads", type=int, default=80)
    opts = args.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for mode in ("inherited", "bound"):
        sent, failures = run(mode, opts.reloads, server.server_address[1])
        lost = sum(failures.values())
        print(f"{mode:9}: {opts.reloads} reloads, {sent} requests, {lost} failed "
              f"({lost / opts.reloads:.3f} per reload)")
        for reason, count in failures.most_common():
            print(f"    {count:3} × {reason}")
    server.shutdown()


if __name__ == "__main__":
    main()
