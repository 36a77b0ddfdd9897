"""A real ACME CA on loopback for the T2 tests: Debian's pebble, with
pebble-challtestsrv as its DNS server (every name resolves to 127.0.0.1,
except those a test points elsewhere so their challenge fails). Pebble
validates HTTP-01 and TLS-ALPN-01 against the ports given: the router's."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .conftest import free_port


@dataclass
class Pebble:
    directory: str  # the ACME directory URL
    tls_root: Path  # the certificate pebble's own HTTPS uses (SHIPWAY_ACME_CA_ROOT)
    management: str
    dns_management: str

    def issuing_root(self) -> str:
        """The PEM root of the certificates pebble issues (it makes a new one each start)."""
        with httpx.Client(verify=False, trust_env=False) as client:  # noqa: S501 - pebble's own
            return client.get(f"{self.management}/roots/0").text

    def misdirect(self, host: str) -> None:
        """Resolve `host` where nothing answers, so its ACME challenge fails."""
        httpx.post(f"{self.dns_management}/add-a", trust_env=False,
                   json={"host": host.rstrip(".") + ".", "addresses": ["127.0.0.2"]})


def _self_signed(base: Path) -> tuple[Path, Path]:
    cert, key = base / "pebble.crt", base / "pebble.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    cert.chmod(0o644)
    return cert, key


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            httpx.get(url, verify=False, trust_env=False, timeout=2)  # noqa: S501
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer:\n{log.read_text()[-2000:]}")


@contextmanager
def pebble(base: Path, http_port: int, tls_port: int) -> Iterator[Pebble]:
    cert, key = _self_signed(base)
    dns, dns_mgmt, acme, mgmt = free_port(), free_port(), free_port(), free_port()
    config = base / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{acme}", "managementListenAddress": f"127.0.0.1:{mgmt}",
        "certificate": str(cert), "privateKey": str(key), "httpPort": http_port,
        "tlsPort": tls_port, "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}))
    log = base / "pebble.log"
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    with log.open("ab") as out:
        dns_proc = subprocess.Popen(
            ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-dns01", f"127.0.0.1:{dns}", "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-management", f"127.0.0.1:{dns_mgmt}"], stdout=out, stderr=out)
        acme_proc = subprocess.Popen(
            ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{dns}"],
            stdout=out, stderr=out, env=env)
    try:
        _wait(f"https://127.0.0.1:{acme}/dir", acme_proc, log)
        yield Pebble(f"https://127.0.0.1:{acme}/dir", cert, f"https://127.0.0.1:{mgmt}",
                     f"http://127.0.0.1:{dns_mgmt}")
    finally:
        for proc in (acme_proc, dns_proc):
            proc.terminate()
            proc.wait(timeout=10)
