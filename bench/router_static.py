"""T3: requests failed by platform changes while another environment holds a deploy.

A real Caddy (as its own uid, inherited listening sockets, as `shipway serve`
runs it) driven through `RouterControl` (the platform's only way to change the
router: a change waits while a deploy holds requests). Under steady load on
an active host (curl, a new connection per request, plain HTTP and HTTPS),
environment A "deploys" for 5 s: its socket is gone and its hold marker
present, and requests sent to it meanwhile are held. Meanwhile 100
environment activations and 20 domain additions (each one more site in the
table, as `sync_router` renders it) are applied, one every `--every` s.

Prints the failed requests of the steady load and of A's held requests, the
number of config loads Caddy saw, and how long the changes waited.

Run as root: .venv/bin/python bench/router_static.py [--activations 100 --domains 20]
                 [--every 0.05] [--coalesce 0.5]
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import socketserver
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

from shipway.deploy import gate  # noqa: E402
from shipway.router.caddy import Caddy  # noqa: E402
from shipway.router.control import COALESCE_SECONDS, RouterControl  # noqa: E402
from shipway.router.table import Site, Upstream  # noqa: E402

ROUTER_UID = 3_960_000 + os.getpid() % 1000
HOLD_SECONDS = 5.0


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Unix(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _serve(path: Path, name: str) -> _Unix:
    server = _Unix(str(path), _Hello)
    server.name = name  # type: ignore[attr-defined]
    path.chmod(0o666)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _curl(url: str, host: str, port: int, timeout: float) -> tuple[str, str]:
    proc = subprocess.run(
        ["curl", "-sS", "-k", "--max-time", str(timeout), "-o", "/dev/null", "-w", "%{http_code}",
         "--resolve", f"{host}:{port}:127.0.0.1", url],
        capture_output=True, text=True, check=False)
    return proc.stdout, proc.stderr.strip()


class Bench:
    def __init__(self, base: Path, coalesce: float) -> None:
        self.http, self.https = free_port(), free_port()
        listen = [("127.0.0.1", self.http), ("127.0.0.1", self.https)]
        self.caddy = Caddy(base / "router", run_as=ROUTER_UID, listen=listen)
        self.caddy.ensure_running()
        addresses = {"http": self.caddy.listen_address("127.0.0.1", self.http),
                     "https": self.caddy.listen_address("127.0.0.1", self.https)}
        self.loads = 0

        def load(config: dict[str, object]) -> None:
            self.loads += 1
            self.caddy.load(config)

        self.control = RouterControl(
            load, lambda: None, http_port=self.http, https_port=self.https,
            listen_host="127.0.0.1", admin_socket=self.caddy.admin_socket,
            storage_dir=self.caddy.storage_dir, hold_seconds=30, access_log=None,
            listen=addresses, coalesce_seconds=coalesce)
        apps = base / "apps"
        apps.mkdir(mode=0o755)
        self.steady_sock, self.held_sock = apps / "steady.sock", apps / "held.sock"
        self.marker = base / "holds" / "a"
        self.marker.parent.mkdir(mode=0o755)
        self.servers = [_serve(self.steady_sock, "steady")]

    def sites(self, envs: int, domains: int) -> list[Site]:
        steady = Upstream(f"unix/{self.steady_sock}")
        held = Upstream(f"unix/{self.held_sock}", hold_marker=str(self.marker))
        out = [Site(s, "steady.test", "/", steady) for s in ("http", "https")]
        out += [Site(s, "a.test", "/", held) for s in ("http", "https")]
        out += [Site("https", f"env{i}.test", "/", steady) for i in range(envs)]
        out += [Site("https", f"www.domain{i}.example", "/", steady) for i in range(domains)]
        return out


def _load(bench: Bench, stop: threading.Event, failures: Counter[str], sent: list[int],
          scheme: str) -> None:
    port = bench.https if scheme == "https" else bench.http
    while not stop.is_set():
        code, error = _curl(f"{scheme}://steady.test:{port}/", "steady.test", port, 10)
        sent[0] += 1
        if code != "200":
            failures[f"steady {scheme}: {error or code}"] += 1


def _held_request(bench: Bench, answers: list[str]) -> None:
    code, error = _curl(f"http://a.test:{bench.http}/", "a.test", bench.http, 30)
    answers.append(code if code == "200" else f"{code} {error}")


def _deploy_a(bench: Bench, answers: list[str]) -> None:
    """A's deploy: hold begins, its app is gone for HOLD_SECONDS, requests arrive and wait."""
    gate.begin_hold(bench.marker)
    bench.marker.chmod(0o644)
    with bench.control.holding():
        waiting = [threading.Thread(target=_held_request, args=(bench, answers))
                   for _ in range(10)]
        for thread in waiting:
            thread.start()
            time.sleep(HOLD_SECONDS / 20)
        time.sleep(HOLD_SECONDS / 2)
        bench.servers.append(_serve(bench.held_sock, "a-new"))
        for thread in waiting:
            thread.join()
    gate.end_hold(bench.marker)


def run(activations: int, domains: int, every: float, coalesce: float) -> None:
    base = Path(tempfile.mkdtemp(prefix="router-static-"))
    base.chmod(0o755)
    bench = Bench(base, coalesce)
    bench.servers.append(_serve(bench.held_sock, "a-old"))
    bench.control.apply(bench.sites(0, 0))
    time.sleep(1)
    stop, failures, sent = threading.Event(), Counter[str](), [0]
    loops = [threading.Thread(target=_load, args=(bench, stop, failures, sent, s))
             for s in ("http", "https")]
    for thread in loops:
        thread.start()
    time.sleep(0.5)
    bench.servers[-1].shutdown()
    bench.servers[-1].server_close()
    bench.held_sock.unlink()
    held: list[str] = []
    deploy = threading.Thread(target=_deploy_a, args=(bench, held))
    deploy.start()
    time.sleep(0.3)
    waited, started = 0.0, time.monotonic()
    changes = [(i + 1, 0) for i in range(activations)] + \
        [(activations, j + 1) for j in range(domains)]
    for envs, doms in changes:
        before = time.monotonic()
        bench.control.apply(bench.sites(envs, doms))
        waited = max(waited, time.monotonic() - before)
        time.sleep(every)
    deploy.join()
    time.sleep(max(0.5, coalesce + 0.3))  # the last coalesced load, and requests after it
    stop.set()
    for thread in loops:
        thread.join()
    bench.caddy.stop()
    for server in bench.servers:
        server.server_close()
    shutil.rmtree(base, ignore_errors=True)
    lost = sum(failures.values())
    held_failed = [a for a in held if a != "200"]
    print(f"changes: {len(changes)} ({activations} activations + {domains} domains) in "
          f"{time.monotonic() - started:.1f} s; Caddy config loads: {bench.loads}; "
          f"longest wait of one change: {waited:.1f} s")
    print(f"steady load: {sent[0]} requests, {lost} failed")
    for reason, count in failures.most_common():
        print(f"    {count:3} x {reason}")
    print(f"held on A through its {HOLD_SECONDS:g} s deploy: {len(held)} requests, "
          f"{len(held_failed)} failed {held_failed}")
    print(f"FAILED REQUESTS TOTAL: {lost + len(held_failed)}")


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--activations", type=int, default=100)
    args.add_argument("--domains", type=int, default=20)
    args.add_argument("--every", type=float, default=0.05)
    args.add_argument("--coalesce", type=float, default=COALESCE_SECONDS,
                      help="RouterControl's window for changes outside holds (0: none)")
    opts = args.parse_args()
    run(opts.activations, opts.domains, opts.every, opts.coalesce)


if __name__ == "__main__":
    main()
