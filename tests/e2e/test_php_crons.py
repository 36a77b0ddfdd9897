"""C6: a PHP-FPM app's crons and workers run their commands as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Shipway, make_repo, push, wait_for

pytestmark = pytest.mark.e2e

APP = """\
name: app
type: "php:8.2"
mounts:
  state: {source: storage, source_path: state}
web:
  locations:
    "/":
      root: public
      passthru: /index.php
workers:
  queue:
    commands:
      start: >-
        php -r 'file_put_contents("/app/state/worker", "worker:" . getenv("PLATFORM_PROJECT"));
        sleep(600);'
crons:
  stamp:
    spec: "* * * * *"
    commands:
      start: php -r 'file_put_contents("/app/state/cron", "cron:" . getenv("PLATFORM_PROJECT"));'
"""
ROUTES = '"https://{default}/":\n  type: upstream\n  upstream: "app:http"\n'


def test_c6_an_fpm_apps_cron_and_worker_run(shipway: Shipway, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".platform").mkdir(parents=True)
    (repo / ".platform" / "routes.yaml").write_text(ROUTES)
    (repo / ".platform" / "services.yaml").write_text("{}\n")
    (repo / ".platform.app.yaml").write_text(APP)
    (repo / "public").mkdir()
    (repo / "public" / "index.php").write_text("<?php echo php_sapi_name();\n")
    make_repo(repo)
    remote = shipway.create_project("phpcron")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    url = shipway.url("phpcron").rstrip("/")
    assert shipway.fetch(url + "/anything") == (200, "fpm-fcgi")
    state = shipway.app_data("phpcron") / "shared" / "state"
    wait_for((state / "worker").exists, 30, "the worker's mark")
    assert (state / "worker").read_text().startswith("worker:")
    wait_for((state / "cron").exists, 90, "the cron's mark")
    assert (state / "cron").read_text().startswith("cron:")
