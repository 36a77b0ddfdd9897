"""A1/BK attack found in review (session 18): restoring a backup copies its environment's
data into the target, so restoring production's backup into a development environment is
reading production, whatever role the user holds on development."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.access_helpers import https, token_for
from tests.e2e.conftest import STDLIB, Shipway, free_port, git, make_repo, push, running_shipway

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Shipway, str]]:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root")
    store = Path(tempfile.mkdtemp(prefix="shipway-review-bk-"))
    env = {"SHIPWAY_API_LISTEN": f"127.0.0.1:{free_port()}",
           "SHIPWAY_BACKUP_REPOSITORY": str(store / "restic"),
           "SHIPWAY_BACKUP_PASSWORD_FILE": str(store / "secret" / "password")}
    try:
        with running_shipway(env) as sw:
            remote = sw.create_project("shop")
            repo = make_repo(tmp_path_factory.mktemp("bk") / "repo", STDLIB)
            git(repo, "remote", "add", "shipway", remote)
            assert push(repo, remote).returncode == 0
            git(repo, "checkout", "-q", "-b", "feat")
            git(repo, "push", "-o", "environment.status=active", "shipway", "feat")
            yield sw, sw.cli("url", "--api").stdout.splitlines()[0]
    finally:
        shutil.rmtree(store, ignore_errors=True)


def test_a1_production_backup_not_restored_into_development_by_a_dev_admin(
        platform: tuple[Shipway, str]) -> None:
    sw, url = platform
    sw.cli("backup:create", "-p", "shop", "-e", "main")
    found = json.loads(sw.cli("backup:list", "-p", "shop", "--format", "json").stdout)
    backup = next(b for b in found if b["environment"] == "main")
    dev = token_for(sw, "devadmin@example.com", "viewer", "development:admin",
                    "production:viewer", name="da")
    acts = sw.cli("activity:list", "-p", "shop", "--format", "json").stdout
    with https(sw, url, dev) as client:
        r = client.post(f"/projects/shop/backups/{backup['id']}/restore", json={"target": "feat"})
        assert r.status_code == 403, r.text
        assert "production" in r.json()["error"]
    assert json.loads(sw.cli("activity:list", "-p", "shop", "--format", "json").stdout) \
        == json.loads(acts)
