"""A1/A3 attacks on a real control plane over real HTTPS: forged actors, tokens where
they do not belong, revoked or orphaned tokens, SQL-ish names, escalation attempts."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.access_helpers import activities, api_platform, https, local, token_for, user_id
from tests.e2e.conftest import Shipway

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Shipway, str]]:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root")
    with api_platform(tmp_path_factory.mktemp("attacks")) as pair:
        yield pair


def test_a3_forged_actor_header_over_tcp_is_refused(platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    token = token_for(sw, "mallory@example.com", "viewer", "production:viewer", name="m")
    admin = token_for(sw, "boss@example.com", "admin", name="b")
    with https(sw, url, token) as client:
        forged = client.get("/projects/shop/environments",
                            headers={"X-Shipway-Actor": user_id(sw, "boss@example.com")})
        assert forged.status_code == 401
        assert "unix socket" in forged.json()["error"]
        assert client.post("/projects/shop/users", json={"email": "m2@example.com",
                                                         "roles": ["admin"]}).status_code == 403
    with https(sw, url) as client:  # no token at all, only the header
        assert client.get("/projects/shop/environments",
                          headers={"X-Shipway-Actor": "operator"}).status_code == 401
    assert admin


@pytest.mark.parametrize("how", ["query", "basic", "empty", "scheme-only", "prefix-only",
                                 "truncated", "padded", "huge"])
def test_a3_tokens_only_as_a_bearer_header(platform: tuple[Shipway, str], how: str) -> None:
    sw, url = platform
    token = token_for(sw, "ivan@example.com", "viewer", "production:viewer", name="i")
    headers = {
        "query": {}, "basic": {"Authorization": f"Basic {token}"},
        "empty": {"Authorization": ""}, "scheme-only": {"Authorization": "Bearer"},
        "prefix-only": {"Authorization": "Bearer shipway_"},
        "truncated": {"Authorization": f"Bearer {token[:-2]}"},
        "padded": {"Authorization": f"Bearer {token}x"},
        "huge": {"Authorization": "Bearer shipway_" + "A" * 6000},
    }[how]
    with https(sw, url) as client:
        r = client.get("/projects/shop/environments", headers=headers,
                       params={"access_token": token, "token": token} if how == "query" else {})
    assert r.status_code in (401, 431), r.text


def test_a3_plain_http_on_the_tls_port_gets_nothing(platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    token = token_for(sw, "ivan@example.com", "viewer", name="i2")
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https://", "http://") + "/projects",
                  headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_a3_token_of_a_removed_user_and_stored_only_hashed(platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    token = token_for(sw, "temp@example.com", "viewer", "production:viewer", name="tmp")
    db = sqlite3.connect(sw.home / "state" / "shipway.db")
    stored = [r[0] for r in db.execute("SELECT hash FROM access_tokens")]
    db.close()
    assert hashlib.sha256(token.encode()).hexdigest() in stored and token not in stored
    with https(sw, url, token) as client:
        assert client.get("/projects").status_code == 200
        sw.cli("user:delete", "temp@example.com", "-p", "shop")
        assert client.get("/projects").status_code == 401
        sw.cli("user:add", "temp@example.com", "-p", "shop", "--role", "admin")
        assert client.get("/projects").status_code == 401  # re-adding revives no old token


@pytest.mark.parametrize("email", ["x' OR '1'='1@example.com", "a@example.com'; DROP TABLE "
                                   "access_users; --", "../../etc@example.com", "a@b\x00.com"])
def test_a1_sqlish_and_odd_emails_are_refused(platform: tuple[Shipway, str], email: str) -> None:
    sw, _ = platform
    before = sw.cli("user:list", "-p", "shop", "--format", "json").stdout
    with local(sw) as client:
        r = client.post("/projects/shop/users", json={"email": email, "roles": ["admin"]})
        assert r.status_code == 400, r.text
        path = quote(email, safe="@")
        assert client.get(f"/projects/shop/users/{path}").status_code in (400, 404)
    assert sw.cli("user:list", "-p", "shop", "--format", "json").stdout == before


def test_a3_sqlish_token_name_is_refused(platform: tuple[Shipway, str]) -> None:
    sw, _ = platform
    token_for(sw, "ned@example.com", "viewer", name="n")
    out = sw.cli("api-token:create", "--user", "ned@example.com", "--name",
                 "x'); DELETE FROM access_tokens; --", check=False)
    assert out.returncode != 0 and "invalid token name" in out.stderr
    assert any(t["name"] == "n" for t in json.loads(
        sw.cli("api-token:list", "--format", "json").stdout))


def test_a1_users_cannot_mint_tokens_or_keys_for_others(platform: tuple[Shipway, str],
                                                        tmp_path: object) -> None:
    sw, url = platform
    admin = token_for(sw, "padmin@example.com", "admin", name="pa")
    token_for(sw, "victim@example.com", "viewer", name="v")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{tmp_path}/k"],
                   check=True)
    with open(f"{tmp_path}/k.pub", "rb") as f:
        import base64

        key = base64.b64encode(f.read()).decode()
    with https(sw, url, admin) as client:
        r = client.post("/api-tokens", json={"user": "victim@example.com", "name": "x"})
        assert r.status_code == 403
        r = client.post("/ssh-keys", json={"user": "victim@example.com", "key_base64": key})
        assert r.status_code == 403
        assert client.post("/projects", json={"name": "mine"}).status_code == 403
        listed = client.get("/api-tokens").json()
        assert {t["user"] for t in listed} == {"padmin@example.com"}


def test_a1_unknown_actor_on_the_socket_and_unknown_action(platform: tuple[Shipway, str]) -> None:
    sw, _ = platform
    with local(sw, "u000000000000") as client:
        assert client.get("/projects").status_code == 401
    acts = activities(sw)
    alice = token_for(sw, "al@example.com", "viewer", "development:contributor", name="al")
    with https(sw, platform[1], alice) as client:
        r = client.post("/projects/shop/environments/feat/format-disk", json={})
        assert r.status_code in (403, 404)
        r = client.post("/projects/shop/environments/feat/deactivate", json={})
        assert r.status_code == 403 and "development:admin" in r.json()["error"]
        r = client.put("/projects/shop/variables", json={"name": "env:X", "value": "1",
                                                         "create": True, "level": "project"})
        assert r.status_code == 403 and "project admin" in r.json()["error"]
    assert activities(sw) == acts


def test_a1_push_endpoint_is_for_the_local_hook_only(platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    boss = token_for(sw, "owner@example.com", "admin", name="o")
    body = {"updates": [{"ref": "refs/heads/main", "old": "0" * 40, "new": "1" * 40}],
            "git_env": {"GIT_OBJECT_DIRECTORY": "/etc"}, "push_options": []}
    acts = activities(sw)
    with https(sw, url, boss) as client:
        r = client.post("/projects/shop/push", json=body)
    assert r.status_code == 403 and "git" in r.json()["error"]
    assert activities(sw) == acts
