"""A1 attacks found in review (session 18): a route whose authorisation is computed from
one thing while its handler acts on another. Each runs against a real control plane
over real HTTPS with a token of a user holding less than the action needs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests.e2e.access_helpers import api_platform, heads, https, local, token_for, user_id
from tests.e2e.conftest import Shipway

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Shipway, str]]:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root")
    with api_platform(tmp_path_factory.mktemp("review")) as pair:
        yield pair


def _project_var(sw: Shipway, name: str) -> dict | None:
    out = sw.cli("variable:list", "-p", "shop", "--format", "json").stdout
    found = [v for v in json.loads(out) if v["name"] == name and not v.get("environment")]
    return found[0] if found else None


def test_a1_dev_admin_cannot_change_a_project_variable_through_env_scope(
        platform: tuple[Shipway, str]) -> None:
    """An environment admin of `development` names their own environment but no level:
    the variable found is the project's (production's too), so it must need project admin."""
    sw, url = platform
    sw.cli("variable:create", "-p", "shop", "-l", "project", "--name", "env:PAYMENT_URL",
           "--value", "https://pay.example.com")
    dev = token_for(sw, "devadmin@example.com", "viewer", "development:admin",
                    "production:viewer", name="da")
    with https(sw, url, dev) as client:
        r = client.put("/projects/shop/variables",
                       json={"environment": "feat", "name": "env:PAYMENT_URL",
                             "value": "https://evil.example.com"})
        assert r.status_code == 403, r.text
        for level in ({}, {"level": "environment"}):  # DELETE reads no level: same look-up
            r = client.request("DELETE", "/projects/shop/variables",
                               json={"environment": "feat", "name": "env:PAYMENT_URL", **level})
            assert r.status_code == 403, r.text
    var = _project_var(sw, "env:PAYMENT_URL")
    assert var is not None and var["value"] == "https://pay.example.com"


def test_a1_log_app_parameter_stays_in_the_named_environment(
        platform: tuple[Shipway, str]) -> None:
    """`?app=` is a path piece: a development viewer must not read production's logs with
    `app=../main/app`, nor another project's, nor any file outside the log tree."""
    sw, url = platform
    viewer = token_for(sw, "devview@example.com", "viewer", "development:viewer", name="dv")
    main_log = sw.cli("log", "deploy", "-p", "shop", "-e", "main").stdout
    assert main_log.strip(), "production has a deploy log to steal"
    with https(sw, url, viewer) as client:
        assert client.get("/projects/shop/environments/main/logs/deploy").status_code == 403
        for app in ("../main/app", "../../shop/main/app", "/etc", "..", "a/../../main/app"):
            r = client.get("/projects/shop/environments/feat/logs/deploy", params={"app": app})
            assert main_log.strip() not in r.text, f"production's deploy log read with app={app}"
            assert r.status_code == 400, (app, r.status_code, r.text[:200])


def _main_head(sw: Shipway) -> str:
    line = next(x for x in heads(sw).splitlines() if x.endswith("refs/heads/main"))
    return line.split()[0]


def test_a1_no_copy_of_production_data_for_a_development_contributor(
        platform: tuple[Shipway, str]) -> None:
    """Branching (or activating, or synchronising) clones the parent's data and inherits its
    variables (E2, E3) into an environment the user may `shipway ssh` into: that is reading
    the parent, so it needs `branch` (contributor) on the parent's type, not just a view of it."""
    sw, url = platform
    dev = token_for(sw, "devcon@example.com", "viewer", "development:contributor",
                    "production:viewer", name="dc")
    before = [e["name"] for e in json.loads(sw.cli("environment:list", "-p", "shop",
                                                   "--format", "json").stdout)]
    with https(sw, url, dev) as client:
        r = client.post("/projects/shop/environments/main/branch", json={"name": "steal"})
        assert r.status_code == 403, r.text
        assert "production:contributor" in r.json()["error"]
    updates = [{"ref": "refs/heads/steal2", "old": "0" * 40, "new": _main_head(sw)}]
    with local(sw, user_id(sw, "devcon@example.com")) as client:  # as the git hook asks
        r = client.post("/projects/shop/push", json={
            "updates": updates, "git_env": {}, "push_options": ["environment.status=active"]})
        assert r.status_code == 403, r.text
    after = [e["name"] for e in json.loads(sw.cli("environment:list", "-p", "shop",
                                                  "--format", "json").stdout)]
    assert after == before


def test_a1_another_projects_names_are_not_revealed_over_the_api(
        platform: tuple[Shipway, str]) -> None:
    """A user of `bank` only, probing `shop` (which has `main` and `feat`) for environment
    names, gets one and the same refusal whether the name exists or not."""
    sw, url = platform
    if sw.cli("project:info", "-p", "bank", check=False).returncode != 0:
        sw.create_project("bank")
    sw.cli("user:add", "outsider@example.com", "-p", "bank", "--role", "admin")
    token = sw.cli("api-token:create", "--user", "outsider@example.com", "--name", "o").stdout.strip()
    answers = set()
    with https(sw, url, token) as client:
        for env in ("main", "feat", "nosuch", "secret-acquisition"):
            for tail in ("", "/releases", "/url"):
                r = client.get(f"/projects/shop/environments/{env}{tail}")
                answers.add((r.status_code, r.json()["error"].replace(f"/{env}", "")))
            r = client.post(f"/projects/shop/environments/{env}/merge", json={})  # its parent
            answers.add((r.status_code, r.json()["error"].replace(" merge into ", " view ")))
    assert len(answers) == 1, answers
    assert next(iter(answers))[0] == 403
