"""Attacks on domains (T1) against a real control plane: names that are not
DNS names, names another project owns, the platform's own generated hosts,
`{default}` smuggled into a name, and bodies that are not what the API
expects. Each is refused with a 4xx and nothing is stored or served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipway.settings import load_settings
from tests.e2e.conftest import STDLIB, Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(shipway: Shipway) -> Iterator[httpx.Client]:
    for name in ("owner", "attacker"):
        shipway.create_project(name)
    shipway.cli("domain:add", "-p", "owner", "shop.example.test")
    socket = load_settings(shipway.env).api_socket
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://shipway",
                      timeout=30) as client:
        yield client


def _stored(api: httpx.Client, project: str) -> list[str]:
    return [d["name"] for d in api.get(f"/projects/{project}/domains").json()]


@pytest.mark.parametrize("name", [
    "x" * 100_000 + ".test",  # huge
    "a" * 64 + ".example.test",  # a label over 63
    "{default}",  # placeholder injection: would read as a route template
    "{default}.example.test",
    "www.{all}",
    "evil.test\nHost: x",  # header / config injection
    "evil.test/../../x",
    "evil test",
    "\u0430pple.test",  # a Cyrillic "а": homograph, must be punycode
    "",
    "*.example.test",  # wildcards: not supported yet
    "10.0.0.1",
    "main-abc1234.owner.localhost",  # another project's generated host
    "localhost",
])
def test_malformed_or_reserved_names_are_refused_t1(api: httpx.Client, name: str) -> None:
    answer = api.post("/projects/attacker/domains", json={"name": name})
    assert answer.status_code == 400, answer.text
    assert _stored(api, "attacker") == []


@pytest.mark.parametrize("body", [{"name": 42}, {"name": ["a.test"]}, {"name": None}, ["a.test"],
                                  {}])
def test_bodies_that_are_not_a_name_are_refused_t1(api: httpx.Client, body: Any) -> None:
    assert api.post("/projects/attacker/domains", json=body).status_code == 400
    assert _stored(api, "attacker") == []


def test_another_projects_domain_cannot_be_claimed_read_or_deleted_t1(api: httpx.Client) -> None:
    for variant in ("shop.example.test", "SHOP.Example.Test", "shop.example.test."):
        refused = api.post("/projects/attacker/domains", json={"name": variant})
        assert refused.status_code == 400 and "another project" in refused.json()["error"]
        assert "owner" not in refused.json()["error"]  # who owns it is not disclosed
    assert api.get("/projects/attacker/domains/shop.example.test").status_code == 404
    assert api.delete("/projects/attacker/domains/shop.example.test").status_code == 404
    assert _stored(api, "owner") == ["shop.example.test"]


def test_a_missing_project_gets_no_domain_t1(api: httpx.Client) -> None:
    assert api.post("/projects/nobody/domains", json={"name": "n.test"}).status_code == 404
    assert api.post("/projects/attacker/domains", json={"name": "n.test"}).status_code == 201
    api.delete("/projects/attacker/domains/n.test")


def _deploy(shipway: Shipway, project: str, repo: Path, routes: str, version: str) -> None:
    repo = make_repo(repo, STDLIB)
    (repo / ".platform").mkdir(exist_ok=True)
    (repo / ".platform" / "routes.yaml").write_text(routes)
    (repo / "app.py").write_text((repo / "app.py").read_text().replace('"v1"', f'"{version}"'))
    commit(repo, "routes")
    remote = str(shipway.home / "git" / f"{project}.git")
    assert push(repo, remote).returncode == 0


def test_a_route_naming_another_projects_domain_is_not_served_t1(
        shipway: Shipway, api: httpx.Client, tmp_path: Path) -> None:
    """The attacker's routes name the owner's domain literally, and as
    `{default}`'s sub-domain of a domain it does own: neither takes the owner's site."""
    _deploy(shipway, "owner", tmp_path / "owner",
            '"https://{default}/": {type: upstream, upstream: "app:http"}\n', "owner")
    api.post("/projects/owner/domains", json={"name": "api.bait.test"})
    api.post("/projects/attacker/domains", json={"name": "bait.test"})
    _deploy(shipway, "attacker", tmp_path / "attacker",
            '"https://shop.example.test/": {type: upstream, upstream: "app:http"}\n'
            '"https://api.{default}/": {type: upstream, upstream: "app:http"}\n'
            '"https://{default}/": {type: upstream, upstream: "app:http"}\n', "attacker")
    port = shipway.env["SHIPWAY_HTTPS_PORT"]
    code, body = shipway.fetch(f"https://shop.example.test:{port}/")
    assert code == 200 and body.startswith("stdlib owner"), body
    code, body = shipway.fetch(f"https://bait.test:{port}/")
    assert code == 200 and body.startswith("stdlib attacker")  # its own domain: served
    # api.bait.test is the owner's domain (a route of the owner's would serve it); the
    # attacker's `api.{default}` never does.
    code, body = shipway.fetch(f"https://api.bait.test:{port}/")
    assert not body.startswith("stdlib attacker"), (code, body)
    urls = [u["url"] for u in api.get("/projects/attacker/environments/main/url").json()]
    hosts = {u.split("://", 1)[1].split(":", 1)[0] for u in urls}
    assert "bait.test" in hosts and not hosts & {"shop.example.test", "api.bait.test"}, urls
