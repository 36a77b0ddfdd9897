"""Attacks on domains (T1) against a real control plane: names that are not
DNS names, names another project owns, the platform's own generated hosts,
`{default}` smuggled into a name, and bodies that are not what the API
expects. Each is refused with a 4xx and nothing is stored or served."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shipway.settings import load_settings
from tests.e2e.conftest import Shipway

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
