"""A1, A3, A5 end to end: users, keys and tokens through the CLI; the API over real HTTPS."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .access_helpers import activities, api_platform, ca_of, https, remote_cli, token_for
from .conftest import SHIPWAY, Shipway, running_shipway

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Shipway, str]]:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root")
    with api_platform(tmp_path_factory.mktemp("access")) as pair:
        yield pair


def test_a3_url_api_prints_base_url_and_ca(platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    out = sw.cli("url", "--api").stdout
    assert url.startswith("https://127.0.0.1:")
    assert str(ca_of(sw)) in out and ca_of(sw).exists()
    assert stat.S_IMODE((sw.home / "api" / "server.key").stat().st_mode) == 0o600


def test_a1_a5_users_keys_tokens_by_cli_redeploy_nothing(platform: tuple[Shipway, str],
                                                         tmp_path: Path) -> None:
    sw, _ = platform
    releases = sw.cli("release:list", "-p", "shop", "--format", "json").stdout
    deploy_log = sw.cli("log", "deploy", "-p", "shop", "-e", "main").stdout
    before = activities(sw)
    sw.cli("user:add", "alice@example.com", "-p", "shop", "--role", "viewer",
           "--role", "development:contributor", "--role", "staging:contributor")
    got = json.loads(sw.cli("user:get", "alice@example.com", "-p", "shop", "--format", "json").stdout)
    assert got["environment_types"] == {"development": "contributor", "staging": "contributor"}
    sw.cli("user:update", "alice@example.com", "-p", "shop", "--role", "production:viewer")
    listed = sw.cli("user:list", "-p", "shop").stdout
    assert "alice@example.com" in listed and "production:viewer" in listed
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")],
                   check=True)
    added = sw.cli("ssh-key:add", "--user", "alice@example.com", str(tmp_path / "k.pub")).stdout
    assert "SHA256:" in added
    keys = json.loads(sw.cli("ssh-key:list", "--user", "alice@example.com", "--format",
                             "json").stdout)
    token = sw.cli("api-token:create", "--user", "alice@example.com", "--name", "laptop").stdout
    tokens = json.loads(sw.cli("api-token:list", "--format", "json").stdout)
    assert [t["name"] for t in tokens] == ["laptop"] and token.strip() not in json.dumps(tokens)
    sw.cli("api-token:delete", tokens[0]["id"])
    sw.cli("ssh-key:delete", keys[0]["id"])
    sw.cli("user:delete", "alice@example.com", "-p", "shop")
    # A5: none of it deployed, redeployed or ran a hook
    assert sw.cli("release:list", "-p", "shop", "--format", "json").stdout == releases
    assert sw.cli("log", "deploy", "-p", "shop", "-e", "main").stdout == deploy_log
    assert activities(sw) == before


def test_a3_cli_over_https_with_a_token(platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    token = token_for(sw, "carol@example.com", "viewer", "production:viewer", "development:viewer")
    out = remote_cli(sw, url, token, "environment:list", "-p", "shop")
    assert out.returncode == 0, out.stderr
    assert "main" in out.stdout and "feat" in out.stdout


def test_a1_users_see_only_environments_of_their_types(platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    token = token_for(sw, "pat@example.com", "viewer", "production:viewer", name="p")
    out = remote_cli(sw, url, token, "environment:list", "-p", "shop", "--format", "json")
    assert [e["name"] for e in json.loads(out.stdout)] == ["main"], out.stderr
    acts = json.loads(remote_cli(sw, url, token, "activity:list", "-p", "shop", "--format",
                                 "json").stdout)
    assert acts and {a["environment"] for a in acts} == {"main"}
    refused = remote_cli(sw, url, token, "environment:info", "-p", "shop", "-e", "feat")
    assert refused.returncode == 1 and "no role on development" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a3_no_token_viewer_and_revoked(platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    with https(sw, url) as client:
        r = client.get("/projects/shop/environments")
        assert r.status_code == 401 and r.json()["kind"] == "unauthorized"
        assert "\n" not in r.json()["error"]
    token = token_for(sw, "victor@example.com", "viewer", "production:viewer", name="v")
    before = activities(sw)
    with https(sw, url, token) as client:
        assert client.get("/projects/shop/environments").status_code == 200
        r = client.post("/projects/shop/environments/main/redeploy", json={})
        assert r.status_code == 403, r.text
        assert "victor@example.com" in r.json()["error"]
        assert "production:viewer" in r.json()["error"]
        assert "production:contributor" in r.json()["error"]
    assert activities(sw) == before  # refused: nothing started
    token_id = json.loads(sw.cli("api-token:list", "--format", "json").stdout)
    sw.cli("api-token:delete", next(t["id"] for t in token_id if t["name"] == "v"))
    with https(sw, url, token) as client:
        assert client.get("/projects/shop/environments").status_code == 401


def test_a1_activity_records_who_triggered_it(platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    token = token_for(sw, "dev@example.com", "viewer", "development:contributor", name="d")
    with https(sw, url, token) as client:
        r = client.post("/projects/shop/environments/feat/redeploy", json={})
        assert r.status_code == 200, r.text
        activity = r.json()["activity"]
        assert client.post("/projects/shop/environments/main/redeploy",
                           json={}).status_code == 403
    sw.cli("activity:log", activity, "--follow")
    found = next(a for a in activities(sw) if a["id"] == activity)
    assert found["triggered_by"] == "dev@example.com"
    table = sw.cli("activity:list", "-p", "shop").stdout
    assert "TRIGGERED_BY" in table and "dev@example.com" in table
    assert activities(sw)[-1]["triggered_by"] == "root"  # the first push, as the operator


def test_a3_auth_login_saves_url_and_token_0600(platform: tuple[Shipway, str],
                                               tmp_path: Path) -> None:
    sw, url = platform
    token = token_for(sw, "erin@example.com", "viewer", "production:viewer", name="e")
    env = {**sw.env, "XDG_CONFIG_HOME": str(tmp_path), "SHIPWAY_HOME": "/nonexistent-client"}
    login = subprocess.run([*SHIPWAY, "auth:api-token-login", "--url", url, "--ca",
                            str(ca_of(sw)), "--token-stdin"], input=token + "\n", env=env,
                           capture_output=True, text=True, check=False, timeout=60)
    assert login.returncode == 0, login.stderr
    assert "erin@example.com" in login.stdout
    saved = tmp_path / "shipway" / "config.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    out = subprocess.run([*SHIPWAY, "environment:list", "-p", "shop"], env=env,
                         capture_output=True, text=True, check=False, timeout=60)
    assert out.returncode == 0 and "main" in out.stdout, out.stderr


def test_a3_the_token_is_in_no_file_under_the_home_and_no_log(platform: tuple[Shipway, str]
                                                              ) -> None:
    sw, url = platform
    token = token_for(sw, "gina@example.com", "viewer", "production:viewer", name="g")
    with https(sw, url, token) as client:
        assert client.get("/projects/shop/environments").status_code == 200
        client.get("/projects/shop/environments", params={"access_token": token})
    needle = token.encode()
    for path in [*sw.home.rglob("*"), sw.serve_log]:
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 64 * 1024 * 1024:
            assert needle not in path.read_bytes(), path


def test_a3_a_taken_api_port_stops_serve_with_a_clear_line() -> None:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError) as failed, \
                running_shipway({"SHIPWAY_API_LISTEN": f"127.0.0.1:{port}"}):
            pass
    assert "the HTTPS API did not start on 127.0.0.1:" in str(failed.value)
