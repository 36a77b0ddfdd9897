"""T1 on a real platform: a project's domains served by the router at once,
with no redeploy and no hook run; another project cannot take them; a branch
environment keeps its generated host (must-hold 1, certificates from the
internal CA here; tests/e2e/test_domains_platform_acme.py adds pebble).
Another project's attempts on these domains: tests/security/test_domains_attacks.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e

ROUTES = """\
"https://{all}/":
  type: upstream
  upstream: "app:http"
"https://www.{default}/":
  type: redirect
  to: "https://{default}/"
"""


@pytest.fixture(scope="module")
def shop(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> Path:
    remote = shipway.create_project("shop")
    repo = make_repo(tmp_path_factory.mktemp("shop") / "repo", STDLIB)
    (repo / ".platform").mkdir(exist_ok=True)
    (repo / ".platform" / "routes.yaml").write_text(ROUTES)
    commit(repo, "routes with {all}")
    assert push(repo, remote).returncode == 0
    return repo


def _cli_json(shipway: Shipway, *args: str) -> object:
    return json.loads(shipway.cli(*args, "--format", "json").stdout)


def _https(shipway: Shipway, host: str, path: str = "/") -> tuple[int, str]:
    return shipway.fetch(f"https://{host}:{shipway.env['SHIPWAY_HTTPS_PORT']}{path}")


def _unchanged_record(shipway: Shipway) -> tuple[object, object, str]:
    """What a redeploy or a hook run would change: activities, releases, the app's pid."""
    activities = _cli_json(shipway, "activity:list", "-p", "shop")
    releases = _cli_json(shipway, "release:list", "-p", "shop", "-e", "main")
    deploy_log = shipway.cli("log", "deploy", "-p", "shop", "-e", "main").stdout
    return activities, releases, deploy_log


def test_domains_are_served_at_once_without_a_redeploy_t1(shipway: Shipway, shop: Path) -> None:
    generated = shipway.url("shop")
    assert ".shop.localhost" in generated
    before = _unchanged_record(shipway)
    _, pid_before = shipway.fetch(generated)

    added = _cli_json(shipway, "domain:add", "-p", "shop", "Www.Example.test")
    assert added == {**added, "name": "www.example.test", "is_default": True}  # type: ignore[dict-item]
    shipway.cli("domain:add", "-p", "shop", "example.org")

    code, body = _https(shipway, "www.example.test")
    assert (code, body) == (200, pid_before)  # the same process: nothing redeployed
    assert _https(shipway, "example.org") == (200, pid_before)  # {all}: every domain
    code, _ = _https(shipway, "www.www.example.test")  # the www redirect of {default}
    assert code == 301
    urls = [u["url"] for u in _cli_json(shipway, "url", "-p", "shop", "-e", "main")]  # type: ignore[union-attr]
    port = shipway.env["SHIPWAY_HTTPS_PORT"]
    assert urls[0] == f"https://www.example.test:{port}/"
    assert f"https://example.org:{port}/" in urls
    assert [d["name"] for d in _cli_json(shipway, "domain:list", "-p", "shop")] == [  # type: ignore[union-attr,index]
        "www.example.test", "example.org"]

    got = _cli_json(shipway, "domain:get", "-p", "shop", "EXAMPLE.org")
    assert (got["name"], got["is_default"]) == ("example.org", False)  # type: ignore[index]
    shipway.cli("domain:delete", "-p", "shop", "example.org")
    assert shipway.cli("domain:get", "-p", "shop", "example.org", check=False).returncode != 0
    # No route, so no http twin, and no certificate is issued for it any more.
    assert shipway.fetch(f"http://example.org:{shipway.env['SHIPWAY_HTTP_PORT']}/")[0] == 404
    assert _https(shipway, "www.example.test") == (200, pid_before)
    assert _unchanged_record(shipway) == before


def test_a_branch_keeps_its_generated_host_t1(shipway: Shipway, shop: Path) -> None:
    shipway.cli("environment:branch", "dev", "-p", "shop")
    dev = shipway.url("shop", "dev")
    assert ".shop.localhost" in dev and "example.test" not in dev
    assert shipway.fetch(dev)[0] == 200
    assert _https(shipway, "www.example.test")[0] == 200  # production keeps its domain


def test_platform_routes_show_the_domain_from_the_next_deploy_t1(shipway: Shipway,
                                                                 shop: Path) -> None:
    shipway.cli("redeploy", "-p", "shop", "-e", "main")
    code, body = _https(shipway, "www.example.test", "/env")
    assert code == 200
    routes = json.loads(base64.b64decode(json.loads(body)["PLATFORM_ROUTES"]))
    assert "https://www.example.test/" in routes
    assert routes["https://www.example.test/"]["original_url"] == "https://{all}/"


