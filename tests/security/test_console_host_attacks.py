"""W1 attacks on the console's host (SHIPWAY_CONSOLE_HOST), the platform's own name on
the router: a project may not add it as a domain in any spelling, and a project that
owns the parent domain cannot reach it with `admin.{default}`: the router keeps
answering it with the console, and the environment's URLs never list it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import STDLIB, Shipway, commit, make_repo, push
from tests.e2e.console_helpers import console_platform

pytestmark = pytest.mark.e2e
HOST = "admin.example.test"


@pytest.fixture(scope="module")
def sw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipway]:
    with console_platform(tmp_path_factory.mktemp("console-host"),
                          {"SHIPWAY_CONSOLE_HOST": HOST}) as (platform, _api, _repo):
        yield platform


@pytest.mark.parametrize("name", [HOST, HOST.upper(), HOST + ".", f" {HOST} "])
def test_w1_the_console_host_cannot_be_added_as_a_domain(sw: Shipway, name: str) -> None:
    out = sw.cli("domain:add", "-p", "shop", name, check=False)
    assert out.returncode != 0 and "platform's own" in out.stderr, out.stdout + out.stderr
    assert HOST not in sw.cli("domain:list", "-p", "shop").stdout


def test_w1_a_route_under_an_owned_parent_never_takes_the_console_host(
        sw: Shipway, tmp_path: Path) -> None:
    sw.cli("domain:add", "-p", "shop", "example.test")  # its parent domain: allowed
    repo = make_repo(tmp_path / "shop", STDLIB)
    (repo / ".platform").mkdir(exist_ok=True)
    (repo / ".platform" / "routes.yaml").write_text(
        '"https://admin.{default}/": {type: upstream, upstream: "app:http"}\n'
        f'"https://{HOST}/": {{type: upstream, upstream: "app:http"}}\n'
        '"https://{default}/": {type: upstream, upstream: "app:http"}\n')
    commit(repo, "claim the console host")
    out = push(repo, str(sw.home / "git" / "shop.git"), "--force")
    assert out.returncode == 0, out.stdout + out.stderr
    port = sw.env["SHIPWAY_HTTPS_PORT"]
    code, body = sw.fetch(f"https://example.test:{port}/")
    assert code == 200 and body.startswith("stdlib"), body  # its own domain: served
    code, body = sw.fetch(f"https://{HOST}:{port}/console/", "-L")
    assert code == 200 and 'name="t"' in body and not body.startswith("stdlib"), (code, body)
    code, body = sw.fetch(f"https://{HOST}:{port}/")
    assert not body.startswith("stdlib"), (code, body)
    urls = json.loads(sw.cli("url", "-p", "shop", "-e", "main", "--format", "json").stdout)
    hosts = {urlsplit(u["url"]).hostname for u in urls}
    assert "example.test" in hosts and HOST not in hosts, urls
