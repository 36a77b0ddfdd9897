"""A3: the API's own CA and certificate (real openssl), SHIPWAY_API_LISTEN, and where the
client finds the remote API (environment first, then the saved config)."""

from __future__ import annotations

import json
import ssl
import subprocess
from pathlib import Path

import pytest

from shipway.api.client import remote_settings
from shipway.api.tls import ensure_tls, names_for, parse_listen, san
from shipway.errors import UsageError


@pytest.mark.parametrize(("value", "host", "port"), [
    ("127.0.0.1:8444", "127.0.0.1", 8444), ("0.0.0.0:1", "0.0.0.0", 1),
    ("[::1]:9000", "::1", 9000), ("api.example.com:443", "api.example.com", 443),
])
def test_a3_parse_listen(value: str, host: str, port: int) -> None:
    listen = parse_listen(value)
    assert (listen.host, listen.port) == (host, port)


@pytest.mark.parametrize("value", ["8444", ":8444", "host:", "host:0", "host:70000", "host:x"])
def test_a3_parse_listen_refuses(value: str) -> None:
    with pytest.raises(UsageError, match="SHIPWAY_API_LISTEN"):
        parse_listen(value)


def test_a3_san_marks_addresses_and_names() -> None:
    assert san(["localhost", "127.0.0.1", "::1"]) == "DNS:localhost,IP:127.0.0.1,IP:::1"
    assert names_for(parse_listen("10.0.0.5:1"))[0] == "10.0.0.5"


def test_a3_ca_and_certificate_verify_and_keys_are_private(tmp_path: Path) -> None:
    names = names_for(parse_listen("127.0.0.1:8444"))
    files = ensure_tls(tmp_path / "api", names)
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(files.ca), str(files.cert)],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    text = subprocess.run(["openssl", "x509", "-in", str(files.cert), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "IP Address:127.0.0.1" in text and "DNS:localhost" in text
    assert (files.key.stat().st_mode & 0o777) == 0o600
    assert ((tmp_path / "api" / "ca.key").stat().st_mode & 0o777) == 0o600
    ssl.create_default_context(cafile=str(files.ca))  # loadable by the client
    ca_before, cert_before = files.ca.read_bytes(), files.cert.read_bytes()
    again = ensure_tls(tmp_path / "api", names)
    assert again.cert.read_bytes() == cert_before  # kept across restarts
    ensure_tls(tmp_path / "api", ["api.example.com", *names])
    assert files.ca.read_bytes() == ca_before and files.cert.read_bytes() != cert_before


def test_a3_client_prefers_the_environment_then_the_config(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHIPWAY_API_URL", "SHIPWAY_API_TOKEN", "SHIPWAY_API_CA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert remote_settings() == {}
    saved = tmp_path / "shipway" / "config.json"
    saved.parent.mkdir()
    saved.write_text(json.dumps({"url": "https://a:1", "token": "shipway_x", "ca": "/ca"}))
    assert remote_settings() == {"url": "https://a:1", "token": "shipway_x", "ca": "/ca"}
    monkeypatch.setenv("SHIPWAY_API_URL", "https://b:2")
    monkeypatch.setenv("SHIPWAY_API_TOKEN", "shipway_y")
    assert remote_settings()["url"] == "https://b:2"
    saved.write_text("not json")
    monkeypatch.delenv("SHIPWAY_API_URL")
    assert remote_settings() == {}
