"""Deploys under load (D2) and the router's cost, measured on this machine, loopback only.

Not a test: it prints figures (and with --write-results updates its own
section of bench/RESULTS.md). It starts its own shipway, pushes the Python
example twice — as shipped (gunicorn on a unix socket) and as a TCP variant
(the nftables gate) — each with an extra `http://{default}/` route so wrk
can speak plain HTTP to the router. Then:

1. Router cost: wrk at full speed against the TCP variant, directly, through
   shipway's Caddy, through nginx (1 worker, upstream keepalive 32, access
   log on, like Caddy's), and through a copy of shipway's Caddy config run
   with GOMAXPROCS=1. Rounds alternate; ratios are to "direct" of the same
   round, then the median is taken (the machine's speed drifts).
2. Deploys under load: wrk sends paced, steady traffic through the router
   while N pushes (empty commits: build reused, deploy hook runs) deploy back
   to back; then the same for the other socket family.

Run as root: .venv/bin/python bench/deploy_under_load.py [--deploys 20] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.e2e.conftest import Shipway, commit, free_port, make_repo, push, running_shipway  # noqa: E402

from shipway.router.caddy import Caddy, find_caddy  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- deploy_under_load: begin -->", "<!-- deploy_under_load: end -->"
WRK_THREADS, FULL_CONNECTIONS, FULL_SECONDS = 2, 32, 8
Runs = dict[str, list[dict[str, float]]]  # target name → wrk figures of each round
PACED_CONNECTIONS, PACE_MS = 16, 10

# --- wrk ----------------------------------------------------------------------

# done() prints exact figures as JSON; `delay` paces each connection (ms
# between a response and the next request) so the load is steady, not flat out.
WRK_LUA = """
{pace}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    host: str
    pids: tuple[int, ...] = ()  # the router's processes, for its CPU per request


def _wrk_argv(target: Target, connections: int, seconds: int, script: Path) -> list[str]:
    return ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "120s",
            "-s", str(script), "-H", f"Host: {target.host}", f"http://127.0.0.1:{target.port}/"]


def _script(work: Path, pace_ms: int) -> Path:
    path = work / f"wrk-{pace_ms}.lua"
    pace = f"delay = function() return {pace_ms} end" if pace_ms else ""
    path.write_text(WRK_LUA.format(pace=pace))
    return path


def _wrk_figures(output: str) -> dict[str, float]:
    found = re.search(r"^WRK_JSON (\{.*\})$", output, re.M)
    if not found:
        raise RuntimeError(f"wrk printed no figures:\n{output}")
    figures: dict[str, float] = json.loads(found[1])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["socket_errors"] = sum(figures[k] for k in ("connect", "read", "write", "timeout"))
    return figures


def wrk(target: Target, work: Path) -> dict[str, float]:
    argv = _wrk_argv(target, FULL_CONNECTIONS, FULL_SECONDS, _script(work, 0))
    return _wrk_figures(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


@contextmanager
def wrk_running(target: Target, work: Path) -> Iterator[dict[str, float]]:
    """Paced wrk for as long as the block runs; figures filled in at the end."""
    argv = _wrk_argv(target, PACED_CONNECTIONS, 3600, _script(work, PACE_MS))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    figures: dict[str, float] = {}
    try:
        yield figures
    finally:
        proc.send_signal(signal.SIGINT)  # wrk stops, then prints its summary and done()
        figures.update(_wrk_figures(proc.communicate(timeout=60)[0]))


# --- the routers under comparison -------------------------------------------

NGINX_CONF = """
daemon off;
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log {dir}/access.log;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $host;
  proxy_set_header X-Forwarded-For $remote_addr;
  upstream tcp_app {{ server 127.0.0.1:{tcp_port}; keepalive 32; }}
  upstream unix_app {{ server unix:{unix_socket}; keepalive 32; }}
  server {{ listen 127.0.0.1:{port}; server_name {tcp_host}; location / {{ proxy_pass http://tcp_app; }} }}
  server {{ listen 127.0.0.1:{port}; server_name {unix_host}; location / {{ proxy_pass http://unix_app; }} }}
}}
"""


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by `pids` and their children (nginx's workers)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    wanted = set(pids)
    wanted |= {pid for pid, parent in parents.items() if parent in wanted}
    return sum(times.get(pid, 0.0) for pid in wanted)


@contextmanager
def _process(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[int]:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def nginx(apps: dict[str, App], unix_socket: Path, work: Path) -> Iterator[tuple[int, int]]:
    """nginx proxying to both apps, chosen by Host as shipway's router does; (port, pid)."""
    port, conf_dir = free_port(), work / "nginx"
    conf_dir.mkdir()
    conf = conf_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(
        dir=conf_dir, port=port, tcp_port=apps["tcp"].port, tcp_host=apps["tcp"].host,
        unix_socket=unix_socket, unix_host=apps["unix"].host))
    argv = ["nginx", "-c", str(conf), "-p", str(conf_dir), "-e", str(conf_dir / "error.log")]
    with _process(argv, port) as pid:
        yield port, pid


@contextmanager
def caddy_copy(sw: Shipway, work: Path, gomaxprocs: int) -> Iterator[tuple[int, int]]:
    """shipway's own Caddy config on another port, run with `gomaxprocs`; (port, pid)."""
    config = Caddy(sw.home / "router").current_config()
    port, home = free_port(), work / f"caddy-{gomaxprocs}"
    home.mkdir()
    http = config["apps"]["http"]
    http["servers"] = {"http": http["servers"]["http"] | {"listen": [f"127.0.0.1:{port}"]}}
    http["http_port"], http["https_port"] = port, free_port()
    config["admin"] = {"listen": f"unix/{home}/admin.sock"}
    config["storage"] = {"module": "file_system", "root": str(home / "storage")}
    for log in config.get("logging", {}).get("logs", {}).values():
        if log.get("writer", {}).get("filename"):  # the same logging work, into our own file
            log["writer"]["filename"] = str(home / "access.log")
    (home / "config.json").write_text(json.dumps(config))
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "GOMAXPROCS": str(gomaxprocs)}
    with _process([str(find_caddy()), "run", "--config", str(home / "config.json")], port, env) as pid:
        yield port, pid


def _shipway_caddy(sw: Shipway) -> tuple[int, str]:
    """Our router's pid and its GOMAXPROCS ("Go's default" when unset)."""
    pid = Caddy(sw.home / "router").pid
    assert pid is not None, "shipway's Caddy is not running"
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    found = [e.split(b"=", 1)[1].decode() for e in environ if e.startswith(b"GOMAXPROCS=")]
    return pid, found[0] if found else "Go's default"


def _targets(sw: Shipway, apps: dict[str, App], stack: ExitStack, work: Path) -> list[Target]:
    unix_socket = next((sw.home / "u").glob("*.sock"))
    caddy_pid, caddy_procs = _shipway_caddy(sw)
    nginx_port, nginx_pid = stack.enter_context(nginx(apps, unix_socket, work))
    cores = os.cpu_count() or 1
    other = cores if caddy_procs != str(cores) else 1
    copy_port, copy_pid = stack.enter_context(caddy_copy(sw, work, other))
    tcp, unix = apps["tcp"].host, apps["unix"].host
    ours = f"shipway Caddy (GOMAXPROCS={caddy_procs})"
    return [
        Target("direct to gunicorn (TCP)", apps["tcp"].port, tcp),
        Target(f"{ours} → TCP", sw_port(sw), tcp, (caddy_pid,)),
        Target("nginx → TCP", nginx_port, tcp, (nginx_pid,)),
        Target(f"same Caddy config, GOMAXPROCS={other} → TCP", copy_port, tcp, (copy_pid,)),
        Target(f"{ours} → unix socket", sw_port(sw), unix, (caddy_pid,)),
        Target("nginx → unix socket", nginx_port, unix, (nginx_pid,)),
    ]


def router_cost(sw: Shipway, apps: dict[str, App], work: Path, rounds: int) -> Runs:
    runs: Runs = {}
    with ExitStack() as stack:
        targets = _targets(sw, apps, stack, work)
        for target in targets:  # warm up (connections, Python's caches)
            subprocess.run(_wrk_argv(target, 8, 2, _script(work, 0)), capture_output=True, check=True)
        for _ in range(rounds):
            for target in targets:
                before = cpu_seconds(list(target.pids))
                figures = wrk(target, work)
                used = cpu_seconds(list(target.pids)) - before
                figures["router_cpu_us"] = used / max(1, figures["requests"]) * 1e6
                print(f"  {target.name}: {figures['rps']:,.0f} requests/s", file=sys.stderr)
                runs.setdefault(target.name, []).append(figures)
    return runs


def sw_port(sw: Shipway) -> int:
    return int(sw.env["SHIPWAY_HTTP_PORT"])


# --- the app ------------------------------------------------------------------


@dataclass
class App:
    project: str
    family: str
    repo: Path
    remote: str
    host: str
    port: int = 0  # the TCP variant's own port (direct runs)
    deploys: list[dict[str, float]] = field(default_factory=list)


def deploy_app(sw: Shipway, family: str, work: Path) -> App:
    project = f"flask{family}"
    repo = make_repo(work / project, "python-flask")
    routes = repo / ".platform" / "routes.yaml"
    plain = '\n"http://{default}/":\n  type: upstream\n  upstream: "app:http"\n'
    routes.write_text(routes.read_text() + plain)
    if family == "tcp":
        cfg = repo / ".platform.app.yaml"
        cfg.write_text(cfg.read_text().replace("-b unix:$SOCKET", "-b 127.0.0.1:$PORT")
                       .replace("socket_family: unix", "socket_family: tcp"))
    commit(repo, f"{family} variant with a plain http route")
    remote = sw.create_project(project)
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    urls = json.loads(sw.cli("url", "-p", project, "-e", "main", "--format", "json").stdout)
    url = next(u["url"] for u in urls if u["url"].startswith("http://"))
    app = App(project, family, repo, remote, url.split("://")[1].split("/")[0].split(":")[0])
    code, body = sw.fetch(url + "env")
    assert code == 200, body
    app.port = int(json.loads(body)["variables"].get("PORT") or 0)
    return app


# --- deploys under load ---------------------------------------------------------


def deploys_under_load(sw: Shipway, app: App, deploys: int, work: Path) -> dict[str, object]:
    target = Target("shipway Caddy", sw_port(sw), app.host)
    started = time.time()
    with wrk_running(target, work) as load:
        time.sleep(5)  # traffic outside any deploy, before ...
        for n in range(deploys):
            commit(app.repo, f"deploy {n + 1}", "--allow-empty")
            begin = time.time()
            out = push(app.repo, app.remote)
            log = out.stdout + out.stderr
            assert out.returncode == 0, log
            app.deploys.append({"start": begin, "end": time.time(), **_deploy_figures(log)})
        time.sleep(5)  # ... and after
    ended = time.time()
    return {"wrk": load, **_latency_split(sw, app, started, ended)}


def _deploy_figures(log: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    held = re.search(r"Requests were held for (\d+\.\d+) s", log)
    if held:
        figures["held_seconds"] = float(held[1])
    counted = re.search(r"held (\d+) requests?, longest (\d+\.\d+) s", log)
    if counted:  # the platform's own figure, once deploys log it
        figures["held_requests"], figures["longest"] = int(counted[1]), float(counted[2])
    return figures


def _access_entries(sw: Shipway) -> Iterator[dict[str, object]]:
    # Caddy rolls access.log at 100 MB into access-<time>.log beside it.
    for path in sorted((sw.home / "router").glob("access*.log")):
        with path.open(errors="replace") as lines:
            for line in lines:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue


def _latency_split(sw: Shipway, app: App, started: float, ended: float) -> dict[str, object]:
    windows = [(d["start"], d["end"]) for d in app.deploys]
    during: list[float] = []
    outside: list[float] = []
    statuses: dict[int, int] = {}
    for entry in _access_entries(sw):
        host = str(entry.get("request", {}).get("host", "")).split(":")[0]  # type: ignore[union-attr]
        arrived = float(entry["ts"]) - float(entry["duration"])  # type: ignore[arg-type]
        if host != app.host or not started <= arrived <= ended:
            continue
        statuses[int(entry["status"])] = statuses.get(int(entry["status"]), 0) + 1  # type: ignore[call-overload]
        inside = any(a <= arrived <= b for a, b in windows)
        (during if inside else outside).append(float(entry["duration"]))  # type: ignore[arg-type]
    return {"during": _percentiles(during), "outside": _percentiles(outside), "statuses": statuses}


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": pick(0.50) * 1e3, "p99_ms": pick(0.99) * 1e3,
            "max_ms": ordered[-1] * 1e3}


# --- report ---------------------------------------------------------------------


def _cost_table(runs: Runs) -> list[str]:
    direct = next(iter(runs.values()))  # the first target is the app without a router
    lines = ["| path | requests/s (median) | ratio to direct (median of rounds) | p99 ms | "
             "router CPU per request |", "|---|---|---|---|---|"]
    for name, results in runs.items():
        ratios = [r["rps"] / d["rps"] for r, d in zip(results, direct, strict=True)]
        errors = sum(r["socket_errors"] + r["status"] for r in results)
        note = f" ({errors:.0f} errors)" if errors else ""
        cpu = statistics.median(r["router_cpu_us"] for r in results)
        lines.append(f"| {name} | {statistics.median(r['rps'] for r in results):,.0f}{note} | "
                     f"{statistics.median(ratios):.2f} | "
                     f"{statistics.median(r['p99_us'] for r in results) / 1e3:.1f} | "
                     f"{f'{cpu:.0f} µs' if cpu else '–'} |")
    return lines


def _deploy_table(results: dict[str, dict[str, object]], apps: dict[str, App]) -> list[str]:
    lines = ["| upstream | deploys | requests (wrk) | non-2xx (access log) | socket errors (wrk) | "
             "p50 / p99 outside deploys | p50 / p99 / max during deploys | hold per deploy "
             "(median / longest) | held requests per deploy (median / max) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for family, result in results.items():
        load, out, dur = result["wrk"], result["outside"], result["during"]
        assert isinstance(load, dict) and isinstance(out, dict) and isinstance(dur, dict)
        holds = [d["held_seconds"] for d in apps[family].deploys if "held_seconds" in d]
        counts = [d["held_requests"] for d in apps[family].deploys if "held_requests" in d]
        counted = (f"{statistics.median(counts):.0f} / {max(counts):.0f}" if counts
                   else "n/a (not logged by this build)")
        statuses = result["statuses"]
        assert isinstance(statuses, dict)
        not_2xx = sum(n for code, n in statuses.items() if not 200 <= code < 300)
        lines.append(
            f"| {family} | {len(apps[family].deploys)} | {load['requests']:,.0f} "
            f"({load['rps']:,.0f}/s) | {not_2xx} | {_socket_errors(load)} | "
            f"{out.get('p50_ms', 0):.1f} / {out.get('p99_ms', 0):.1f} ms | "
            f"{dur.get('p50_ms', 0):.1f} / {dur.get('p99_ms', 0):.1f} / {dur.get('max_ms', 0):.0f} ms | "
            f"{statistics.median(holds):.2f} / {max(holds):.2f} s | {counted} |")
    return lines


def _socket_errors(load: dict[str, float]) -> str:
    if not load["socket_errors"]:
        return "0"
    kinds = ", ".join(f"{kind} {load[kind]:.0f}" for kind in ("connect", "read", "write", "timeout")
                      if load[kind])
    return f"{load['socket_errors']:.0f} ({kinds})"


def report(runs: Runs, results: dict[str, dict[str, object]],
           apps: dict[str, App], deploys: int, loads: list[float]) -> str:
    machine = (f"{os.cpu_count()} cores, Linux {os.uname().release}; load average (1 min) "
               f"{', '.join(f'{x:.1f}' for x in loads)} at start / between parts / end — other "
               "sessions share this machine, so compare within one run")
    return "\n".join([
        BEGIN,
        "## Deploys under load and router cost (`bench/deploy_under_load.py`, D2)",
        "",
        f"Machine: {machine}. Command (as root): `.venv/bin/python bench/deploy_under_load.py "
        f"--deploys {deploys} --write-results`. App: examples/python-flask (Flask under gunicorn, "
        "2 sync workers) with an added `http://{default}/` route; the router is shipway's Caddy "
        "as `shipway serve` configures it (access log on, a new upstream connection per request).",
        "",
        f"### Router cost: wrk -t{WRK_THREADS} -c{FULL_CONNECTIONS} -d{FULL_SECONDS}s, GET /, "
        f"{len(next(iter(runs.values())))} alternating rounds",
        "", *_cost_table(runs), "",
        f"### {deploys} deploys back to back under steady load: wrk -t{WRK_THREADS} "
        f"-c{PACED_CONNECTIONS}, {PACE_MS} ms pause per connection between requests, --timeout 120s",
        "",
        "Each deploy is a push of an empty commit (build reused; deploy hook runs). Latencies "
        "are the router's, from its access log; \"during deploys\" = requests that arrived between "
        "a push's start and its end (the hold is part of that).",
        "", *_deploy_table(results, apps), "", END, "",
    ])


def write_results(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        text = head + section.rstrip("\n") + rest.partition(END)[2]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deploys", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the router-cost runs")
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--keep-logs", type=Path, help="copy the router's and control plane's logs here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shipway-bench-"))
    loads = [os.getloadavg()[0]]
    try:
        with running_shipway({"SHIPWAY_HOLD_SECONDS": "300"}) as sw:
            apps = {family: deploy_app(sw, family, work) for family in ("unix", "tcp")}
            runs = router_cost(sw, apps, work, args.rounds)
            loads.append(os.getloadavg()[0])
            results = {family: deploys_under_load(sw, app, args.deploys, work)
                       for family, app in apps.items()}
            loads.append(os.getloadavg()[0])
            if args.keep_logs:
                shutil.copytree(sw.home / "router", args.keep_logs, ignore=shutil.ignore_patterns("*.sock"),
                                dirs_exist_ok=True)
                shutil.copy(sw.serve_log, args.keep_logs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    section = report(runs, results, apps, args.deploys, loads)
    print(section)
    if args.write_results:
        write_results(section)


if __name__ == "__main__":
    main()
