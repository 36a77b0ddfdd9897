"""The nftables isolation: sandboxed uids cannot reach the host's own addresses."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.errors import PlatformError
from shipway.sandbox.firewall import ensure_isolation, remove_isolation
from shipway.sandbox.run import run_oneshot
from shipway.sandbox.spec import SandboxSpec, passthrough_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or not (shutil.which("bwrap") and shutil.which("nft")),
        reason="needs root, bwrap and nft",
    ),
]

ISOLATED = (61600, 61609)
OUTSIDE = 61610

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    print("connected")
except OSError as exc:
    print(type(exc).__name__)
"""


@pytest.fixture
def table() -> Iterator[str]:
    name = f"swtest_{uuid.uuid4().hex[:10]}"
    yield name
    remove_isolation(name)
    subprocess.run(["nft", "delete", "table", "inet", name], capture_output=True, check=False)


@pytest.fixture
def server() -> Iterator[int]:
    """A TCP listener on every address; the kernel completes connects."""
    with socket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True) as sock:
        yield sock.getsockname()[1]


def connect_from(tmp_path: Path, uid: int, host: str, port: int) -> tuple[str, float]:
    app = tmp_path / f"app{uid}"
    app.mkdir(exist_ok=True)
    spec = SandboxSpec(
        command=("/usr/bin/python3", "-c", CONNECT, host, str(port)),
        app_dir=app,
        app_writable=False,
        uid=uid,
        gid=uid,
        env={},
    )
    lines: list[str] = []
    started = time.monotonic()
    run_oneshot(spec, on_line=lambda line, _: lines.append(line), timeout=20)
    return "\n".join(lines), time.monotonic() - started


def own_address() -> str:
    """A non-loopback address of this host (the route to a public address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
        return str(probe.getsockname()[0])


def tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "own"])
def test_isolated_uid_cannot_reach_local_addresses(
    tmp_path: Path, table: str, server: int, host: str
) -> None:
    address = own_address() if host == "own" else host
    assert connect_from(tmp_path, ISOLATED[0], address, server)[0] == "connected"
    ensure_isolation(table, ISOLATED)
    for uid in ISOLATED:
        result, took = connect_from(tmp_path, uid, address, server)
        assert result == "ConnectionRefusedError"
        assert took < 1, took
    assert connect_from(tmp_path, OUTSIDE, address, server)[0] == "connected"
    socket.create_connection((address, server), timeout=5).close()  # the host itself still can


def test_dns_to_a_local_resolver_stays_open(tmp_path: Path, table: str) -> None:
    try:
        listener = socket.create_server(("127.0.0.1", 53))
    except OSError:
        pytest.skip("port 53 is taken on this host")
    with listener:
        ensure_isolation(table, ISOLATED)
        assert connect_from(tmp_path, ISOLATED[0], "127.0.0.1", 53)[0] == "connected"
        ensure_isolation(table, ISOLATED, allow_dns=False)
        assert connect_from(tmp_path, ISOLATED[0], "127.0.0.1", 53)[0] == "ConnectionRefusedError"


def test_ensure_is_idempotent_and_remove_cleans_up(table: str) -> None:
    ensure_isolation(table, ISOLATED)
    ensure_isolation(table, ISOLATED)
    listing = subprocess.run(
        ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=True
    ).stdout
    assert listing.count("reject") == 2
    remove_isolation(table)
    remove_isolation(table)
    assert f"inet {table}\n" not in tables()


def test_remove_keeps_other_chains_of_the_same_table(table: str) -> None:
    ensure_isolation(table, ISOLATED)
    subprocess.run(["nft", "add", "chain", "inet", table, "other"], check=True)
    remove_isolation(table)
    listing = subprocess.run(
        ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=True
    ).stdout
    assert "chain other" in listing
    assert "sandbox_out" not in listing


def test_missing_nft_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PlatformError, match="apt-get install nftables"):
        ensure_isolation("swtest_never", ISOLATED)


FETCH = """
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=20) as answer:
    print(answer.status)
"""


def test_isolated_uid_still_reaches_the_outside_with_the_hosts_ca(
    tmp_path: Path, table: str
) -> None:
    url = "https://pypi.org/simple/pip/"
    try:
        urllib.request.urlopen(url, timeout=20).close()
    except OSError:
        pytest.skip("this host cannot reach pypi.org")
    ensure_isolation(table, ISOLATED)
    app = tmp_path / "app"
    app.mkdir()
    spec = SandboxSpec(
        command=("/usr/bin/python3", "-c", FETCH, url),
        app_dir=app,
        app_writable=False,
        uid=ISOLATED[0],
        gid=ISOLATED[0],
        env=passthrough_env(os.environ),
    )
    lines: list[str] = []
    code = run_oneshot(spec, on_line=lambda line, _: lines.append(line), timeout=60)
    assert (code, lines[-1:]) == (0, ["200"]), lines
