"""The API's own TLS (A3): a CA and a server certificate in SHIPWAY_HOME/api/.

Made at the first `shipway serve` with SHIPWAY_API_LISTEN, with the `openssl`
command line (Debian's openssl package): it is on every Debian server already,
so the platform needs no extra Python dependency for four PEM files, and the
files are the ordinary ones any client can be given. A client trusts the API
by its CA file (`ca.crt`, printed by `shipway url --api`); the keys stay
root-only (0600). The server certificate is made again when the names it must
cover change (a new SHIPWAY_API_LISTEN host).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shipway.errors import PlatformError, UsageError

CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def url_host(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::", "") else socket.gethostname()
        return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def parse_listen(value: str) -> Listen:
    """SHIPWAY_API_LISTEN: HOST:PORT, [IPv6]:PORT."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"SHIPWAY_API_LISTEN={value!r}: use HOST:PORT, e.g. 0.0.0.0:8444")
    return Listen(host, int(port))


def names_for(listen: Listen) -> list[str]:
    """The names and addresses the certificate covers."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn()]
    if listen.host not in ("0.0.0.0", "::"):
        names.insert(0, listen.host)
    return list(dict.fromkeys(n for n in names if n))


def san(names: list[str]) -> str:
    out = []
    for name in names:
        try:
            ipaddress.ip_address(name)
            out.append(f"IP:{name}")
        except ValueError:
            out.append(f"DNS:{name}")
    return ",".join(out)


def ensure_tls(directory: Path, names: list[str]) -> TlsFiles:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    ca_key = directory / "ca.key"
    if not (files.ca.exists() and ca_key.exists()):
        _openssl("req", "-x509", *CURVE, "-keyout", str(ca_key), "-out", str(files.ca),
                 "-days", "3650", "-subj", f"/CN=shipway API CA {socket.gethostname()}"[:64],
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    made_for = directory / "names.json"
    current = json.loads(made_for.read_text()) if made_for.exists() else None
    if current != names or not files.cert.exists():
        _server_cert(files, ca_key, names)
        made_for.write_text(json.dumps(names))
    for path in (ca_key, files.key):
        os.chmod(path, 0o600)
    os.chmod(files.ca, 0o644)
    return files


def _server_cert(files: TlsFiles, ca_key: Path, names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csr, ext = Path(tmp) / "server.csr", Path(tmp) / "ext.cnf"
        ext.write_text(f"subjectAltName={san(names)}\nbasicConstraints=critical,CA:FALSE\n"
                       "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                       "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n")
        _openssl("req", *CURVE, "-keyout", str(files.key), "-out", str(csr),
                 "-subj", f"/CN={names[0]}"[:64])
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(files.ca), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-CAserial", str(Path(tmp) / "ca.srl"), "-days", "825",
                 "-out", str(files.cert), "-extfile", str(ext))


def _openssl(*args: str) -> None:
    try:
        proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False,
                              timeout=60)
    except FileNotFoundError:
        raise PlatformError("openssl is missing; apt-get install openssl") from None
    if proc.returncode != 0:
        raise PlatformError(f"openssl {args[0]} failed: {proc.stderr.strip()[-300:]}")
