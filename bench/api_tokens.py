"""API tokens under load (issue 10, A3): N concurrent HTTPS clients, each with its own
user's token, for S seconds against a real `shipway serve`; the error count and the median
cost of authorisation per request.

The authorisation cost is measured inside the control plane: with SHIPWAY_BENCH_AUTH=1 the
API guard (api/guard.py) times itself (token hash + look-up, route rule, role decision) per
request and `/whoami` on the unix socket reports the median. For comparison the script
also prints the request latency over HTTPS with a token and over the unix socket as root.

Run as root: .venv/bin/python bench/api_tokens.py [--clients 20] [--seconds 30]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import free_port, running_shipway  # noqa: E402

PATH = "/projects/bench/environments"


def hammer(make: object, seconds: float, clients: int) -> tuple[int, int, list[float]]:
    """-> (requests, errors, latencies) of `clients` threads looping for `seconds`."""
    lock = threading.Lock()
    totals = {"n": 0, "errors": 0}
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    def run(i: int) -> None:
        mine: list[float] = []
        errors = 0
        with make(i) as client:  # type: ignore[operator]
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    status = client.get(PATH).status_code
                    ok = status == 200
                    kind = str(status)
                except httpx.HTTPError as exc:
                    ok, kind = False, type(exc).__name__
                if not ok:
                    with lock:
                        kinds[kind] = kinds.get(kind, 0) + 1
                mine.append(time.perf_counter() - started)
                errors += not ok
        with lock:
            totals["n"] += len(mine)
            totals["errors"] += errors
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if kinds:
        print(f"  errors by kind: {kinds}")
    return totals["n"], totals["errors"], latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    env = {"SHIPWAY_API_LISTEN": f"127.0.0.1:{free_port()}", "SHIPWAY_BENCH_AUTH": "1"}
    with running_shipway(env) as sw:
        sw.create_project("bench")
        url = sw.cli("url", "--api").stdout.splitlines()[0]
        trust = ssl.create_default_context(cafile=str(sw.home / "api" / "ca.crt"))
        tokens = []
        for i in range(args.clients):
            sw.cli("user:add", f"u{i}@example.com", "-p", "bench", "--role", "viewer",
                   "--role", "production:viewer")
            tokens.append(sw.cli("api-token:create", "--user", f"u{i}@example.com",
                                 "--name", "bench").stdout.strip())
        sock_path = str(sw.home / "control" / "api.sock")

        def local(i: int) -> httpx.Client:
            return httpx.Client(transport=httpx.HTTPTransport(uds=sock_path), base_url="http://shipway",
                                timeout=30)

        def remote(i: int) -> httpx.Client:
            return httpx.Client(base_url=url, verify=trust, timeout=30,
                                headers={"Authorization": f"Bearer {tokens[i]}"})

        n, errors, lat = hammer(remote, args.seconds, args.clients)
        with local(0) as client:
            auth = client.get("/whoami").json()["auth_timings"]
        print(f"HTTPS + token: {args.clients} clients x {args.seconds:.0f} s: {n} requests "
              f"({n / args.seconds:.0f}/s), {errors} errors; latency median "
              f"{statistics.median(lat) * 1000:.1f} ms, p99 "
              f"{sorted(lat)[int(len(lat) * 0.99)] * 1000:.1f} ms")
        print(f"authorisation in the guard: median {auth['median_ms']:.3f} ms over "
              f"{auth['count']} requests")
        n2, errors2, lat2 = hammer(local, min(args.seconds, 10), args.clients)
        print(f"unix socket as root, for comparison ({min(args.seconds, 10):.0f} s): {n2} "
              f"requests, {errors2} errors; latency median {statistics.median(lat2) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
