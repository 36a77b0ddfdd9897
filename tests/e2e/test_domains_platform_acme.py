"""Must-hold 1 of issue 11 on a real platform with a real ACME CA (T1 + T2):
`domain:add -p shop www.example.test` → production answers on it with a
pebble-issued certificate, `{all}` routes answer on every domain, a branch
keeps its generated host (internal CA), and a name pebble cannot validate is
reported by `domain:add` and still served with the internal CA."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, free_port, make_repo, push, running_shipway
from .pebble import Pebble, pebble

pytestmark = pytest.mark.e2e

ROUTES = '"https://{all}/": {type: upstream, upstream: "app:http"}\n'


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Shipway, Pebble, Path]]:
    base = Path(tempfile.mkdtemp(prefix="shipway-pebble-"))
    base.chmod(0o755)
    http_port, https_port = free_port(), free_port()
    with pebble(base, http_port, https_port) as ca:
        env = {"SHIPWAY_HTTP_PORT": str(http_port), "SHIPWAY_HTTPS_PORT": str(https_port),
               "SHIPWAY_ACME_CA": ca.directory, "SHIPWAY_ACME_CA_ROOT": str(ca.tls_root),
               "SHIPWAY_ACME_EMAIL": "ops@example.test"}
        with running_shipway(env) as sw:
            remote = sw.create_project("shop")
            repo = make_repo(base / "repo", STDLIB)
            (repo / ".platform").mkdir(exist_ok=True)
            (repo / ".platform" / "routes.yaml").write_text(ROUTES)
            commit(repo, "routes on every domain")
            assert push(repo, remote).returncode == 0
            root = base / "pebble-root.pem"
            root.write_text(ca.issuing_root())
            yield sw, ca, root
    shutil.rmtree(base, ignore_errors=True)


def _curl(sw: Shipway, host: str, cacert: Path) -> subprocess.CompletedProcess[str]:
    port = sw.env["SHIPWAY_HTTPS_PORT"]
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--cacert", str(cacert), "--resolve",
         f"{host}:{port}:127.0.0.1", "-w", "\n%{http_code}", f"https://{host}:{port}/"],
        capture_output=True, text=True, check=False)


def _add(sw: Shipway, name: str) -> dict[str, object]:
    out = sw.cli("domain:add", "-p", "shop", name, "--format", "json").stdout
    return json.loads(out)  # type: ignore[no-any-return]


def test_an_added_domain_is_served_with_a_pebble_certificate_t1_t2(world) -> None:  # type: ignore[no-untyped-def]
    sw, _, root = world
    added = _add(sw, "www.example.test")
    assert added["certificate"]["issuer"] == "acme", added  # type: ignore[index]
    answer = _curl(sw, "www.example.test", root)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith("stdlib v1") and answer.stdout.endswith("\n200")
    _add(sw, "shop.example.test")  # {all}: every domain answers
    assert _curl(sw, "shop.example.test", root).stdout.endswith("\n200")


def test_a_branch_keeps_its_generated_host_and_internal_ca_t1_t2(world) -> None:  # type: ignore[no-untyped-def]
    sw, _, _ = world
    sw.cli("environment:branch", "dev", "-p", "shop")
    dev = sw.url("shop", "dev")
    assert ".shop.localhost" in dev
    assert sw.fetch(dev)[0] == 200  # verified against the internal CA


def test_a_name_pebble_refuses_is_reported_and_served_internally_t2(world) -> None:  # type: ignore[no-untyped-def]
    sw, ca, root = world
    ca.misdirect("refused.example.test")
    proc = sw.cli("domain:add", "-p", "shop", "refused.example.test")
    assert "did not issue a certificate" in proc.stdout
    assert _curl(sw, "refused.example.test", sw.ca).stdout.endswith("\n200")
    assert _curl(sw, "refused.example.test", root).returncode != 0
