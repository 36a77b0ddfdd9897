"""T5: requests/s direct to an app, through shipway's router (Caddy, as
`shipway serve` configures it) and through nginx, in one run, same app, same
load (wrk -t2 -c32), TCP and unix upstreams; then what each part of the
router's config costs (access log, hold matcher, the fresh upstream
connection per request a held request takes, GOMAXPROCS).

The app is a small asyncio HTTP/1.1 server (one process, keep-alive), the
same for every path. On 2 cores the router, the app and wrk share the CPU,
so the router's CPU per request shows directly: compare ratios, not
absolute figures.

Run as root: .venv/bin/python bench/router_throughput.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import free_port  # noqa: E402

from shipway.router.caddy import Caddy  # noqa: E402
from shipway.router.caddyconfig import render  # noqa: E402
from shipway.router.table import Site, Upstream  # noqa: E402

HOST = "bench.test"
BODY = b"hello, world"


def _app(tcp_port: int, sock: str) -> None:
    import asyncio

    response = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                writer.write(response)
                if b"connection: close" in head.lower():
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        writer.close()

    async def main() -> None:
        tcp = await asyncio.start_server(handle, "127.0.0.1", tcp_port, backlog=1024)
        unix = await asyncio.start_unix_server(handle, sock, backlog=1024)
        os.chmod(sock, 0o666)
        async with tcp, unix:
            await asyncio.gather(tcp.serve_forever(), unix.serve_forever())

    asyncio.run(main())


def wrk(port: int, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "-H", f"Host: {HOST}", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors[1]} failed responses:\n{out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found, out
    return float(found[1])


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", f"Host: {HOST}",
                           f"http://127.0.0.1:{port}/"], check=False).returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on {port}")


def caddy_run(base: Path, dial: str, seconds: int, *, log: bool = True, marker: bool = True,
              deploying: bool = False, gomaxprocs: int | None = None) -> float:
    """`deploying`: the hold marker exists (no gate closed), so every request takes the
    branch a held request takes: a fresh upstream connection each (shipway before T5)."""
    home = base / f"caddy-{time.monotonic_ns()}"
    caddy = Caddy(home, gomaxprocs=gomaxprocs)
    caddy.ensure_running()
    port = free_port()
    hold = base / "holds" / "app"
    hold.parent.mkdir(mode=0o755, exist_ok=True)
    if deploying:
        hold.write_text("deploying\n")
        hold.chmod(0o644)
    upstream = Upstream(dial, hold_marker=str(hold) if marker else None)
    config = render([Site("http", HOST, "/", upstream)], http_port=port, https_port=free_port(),
                    listen_host="127.0.0.1", admin_socket=caddy.admin_socket,
                    storage_dir=caddy.storage_dir, hold_seconds=300,
                    access_log=home / "access.log" if log else None)
    try:
        caddy.load(copy.deepcopy(config))
        _wait_port(port)
        wrk(port, 1)  # warm up
        return wrk(port, seconds)
    finally:
        caddy.stop()
        hold.unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)


NGINX = """daemon off; worker_processes 1; pid {base}/nginx.pid; error_log {base}/nginx.err;
events {{ worker_connections 1024; }}
http {{
  access_log {base}/nginx.access combined buffer=64k;
  upstream app {{ server {upstream}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{port}; server_name {host};
    location / {{ proxy_pass http://app; proxy_http_version 1.1;
                 proxy_set_header Connection ""; proxy_set_header Host $host; }}
  }}
}}
"""


def nginx_run(base: Path, upstream: str, seconds: int) -> float:
    port = free_port()
    conf = base / "nginx.conf"
    conf.write_text(NGINX.format(base=base, upstream=upstream, port=port, host=HOST))
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-e", str(base / "nginx.err")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        wrk(port, 1)
        return wrk(port, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--seconds", type=int, default=5)
    opts = args.parse_args()
    base = Path(tempfile.mkdtemp(prefix="router-throughput-"))
    base.chmod(0o755)
    app_port, sock = free_port(), str(base / "app.sock")
    app = multiprocessing.Process(target=_app, args=(app_port, sock), daemon=True)
    app.start()
    _wait_port(app_port)
    tcp, unix = f"127.0.0.1:{app_port}", f"unix/{sock}"
    s = opts.seconds
    runs: list[tuple[str, Callable[[], float]]] = [
        ("direct to the app (TCP)", lambda: (wrk(app_port, 1), wrk(app_port, s))[1]),
        ("shipway router, TCP upstream (as served)", lambda: caddy_run(base, tcp, s)),
        ("shipway router, unix upstream (as served)", lambda: caddy_run(base, unix, s)),
        ("nginx 1 worker, TCP upstream, keepalive 32", lambda: nginx_run(base, tcp, s)),
        ("nginx 1 worker, unix upstream, keepalive 32",
         lambda: nginx_run(base, f"unix:{sock}", s)),
        ("router TCP, no access log", lambda: caddy_run(base, tcp, s, log=False)),
        ("router TCP, as held: fresh conn per request", lambda: caddy_run(base, tcp, s,
                                                                          deploying=True)),
        ("router unix, as held: fresh conn per request", lambda: caddy_run(base, unix, s,
                                                                           deploying=True)),
        ("router TCP, GOMAXPROCS=Go default", lambda: caddy_run(base, tcp, s, gomaxprocs=0)),
    ]
    direct = None
    print(f"wrk -t2 -c32 -d{s}s, {os.cpu_count()} cores, app: asyncio HTTP/1.1 keep-alive", flush=True)
    for name, run in runs:
        rate = run()
        direct = direct or rate
        print(f"{name:48} {rate:9.0f} req/s  {rate / direct:5.2f} of direct", flush=True)
    app.terminate()
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
