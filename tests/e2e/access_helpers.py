"""Shared by the access e2e and attack tests: a platform with the HTTPS API on."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .conftest import STDLIB, Shipway, free_port, git, make_repo, push, running_shipway


@contextmanager
def api_platform(tmp: Path) -> Iterator[tuple[Shipway, str]]:
    """A shipway serving its API over HTTPS too, with project `shop` deployed; -> (sw, api URL)."""
    with running_shipway({"SHIPWAY_API_LISTEN": f"127.0.0.1:{free_port()}"}) as sw:
        remote = sw.create_project("shop")
        repo = make_repo(tmp / "repo", STDLIB)
        git(repo, "remote", "add", "shipway", remote)
        out = push(repo, remote)
        assert out.returncode == 0, out.stdout + out.stderr
        git(repo, "checkout", "-q", "-b", "feat")
        out = git(repo, "push", "-o", "environment.status=active", "shipway", "feat", check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        lines = sw.cli("url", "--api").stdout.splitlines()
        yield sw, lines[0]


def ca_of(sw: Shipway) -> Path:
    return sw.home / "api" / "ca.crt"


def token_for(sw: Shipway, email: str, *roles: str, name: str = "t") -> str:
    if sw.cli("user:get", email, "-p", "shop", check=False).returncode != 0:
        sw.cli("user:add", email, "-p", "shop", *[a for r in roles for a in ("--role", r)])
    return sw.cli("api-token:create", "--user", email, "--name", name).stdout.strip()


def https(sw: Shipway, url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    trust = ssl.create_default_context(cafile=str(ca_of(sw)))
    return httpx.Client(base_url=url, verify=trust, headers=headers, timeout=30)


def remote_cli(sw: Shipway, url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**sw.env, "SHIPWAY_API_URL": url, "SHIPWAY_API_TOKEN": token,
           "SHIPWAY_API_CA": str(ca_of(sw)), "SHIPWAY_HOME": "/nonexistent-client-home"}
    return subprocess.run([*SHIPWAY_CMD, *args], env=env, capture_output=True, text=True,
                          check=False, timeout=120)


def local(sw: Shipway, actor: str | None = None) -> httpx.Client:
    """The unix-socket API, as root or (X-Shipway-Actor) as a user, as the hook and gateway do."""
    headers = {"X-Shipway-Actor": actor} if actor else {}
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(sw.home / "control" / "api.sock")),
                        base_url="http://shipway", headers=headers, timeout=30)


def user_id(sw: Shipway, email: str) -> str:
    out = sw.cli("user:get", email, "-p", "shop", "--format", "json").stdout
    return str(json.loads(out)["id"])


def heads(sw: Shipway) -> str:
    return subprocess.run(["git", "-C", str(sw.home / "git" / "shop.git"), "show-ref"],
                          capture_output=True, text=True, check=True).stdout


def activities(sw: Shipway) -> list[dict]:
    return json.loads(sw.cli("activity:list", "-p", "shop", "--format", "json").stdout)


from .conftest import SHIPWAY as SHIPWAY_CMD  # noqa: E402
