"""C6: a PHP-FPM app's crons and workers run their commands as before, and a
PHP app with its own start command (PHP's built-in server) still runs it
instead of PHP-FPM."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Shipway, make_repo, push, wait_for

pytestmark = pytest.mark.e2e

FPM_APP = """\
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
CLI_SERVER_APP = """\
name: app
type: "php:8.2"
mounts:
  state: {source: local, source_path: state}
web:
  commands:
    start: php -S 127.0.0.1:$PORT -t public
  upstream:
    socket_family: tcp
workers:
  queue:
    commands:
      start: php -r 'file_put_contents("/app/state/worker", php_sapi_name()); sleep(600);'
"""
ROUTES = '"https://{default}/":\n  type: upstream\n  upstream: "app:http"\n'


def _deploy(shipway: Shipway, tmp_path: Path, project: str, app: str, index: str) -> str:
    """Push a one-app PHP project; -> its URL without the trailing slash."""
    repo = tmp_path / "repo"
    (repo / ".platform").mkdir(parents=True)
    (repo / ".platform" / "routes.yaml").write_text(ROUTES)
    (repo / ".platform" / "services.yaml").write_text("{}\n")
    (repo / ".platform.app.yaml").write_text(app)
    (repo / "public").mkdir()
    (repo / "public" / "index.php").write_text(index)
    make_repo(repo)
    out = push(repo, shipway.create_project(project))
    assert out.returncode == 0, out.stdout + out.stderr
    return shipway.url(project).rstrip("/")


def test_c6_an_fpm_apps_cron_and_worker_run(shipway: Shipway, tmp_path: Path) -> None:
    url = _deploy(shipway, tmp_path, "phpcron", FPM_APP, "<?php echo php_sapi_name();\n")
    assert shipway.fetch(url + "/anything") == (200, "fpm-fcgi")
    state = shipway.app_data("phpcron") / "shared" / "state"
    wait_for((state / "worker").exists, 30, "the worker's mark")
    assert (state / "worker").read_text().startswith("worker:")
    wait_for((state / "cron").exists, 90, "the cron's mark")
    assert (state / "cron").read_text().startswith("cron:")


def test_c6_a_custom_start_and_a_worker(shipway: Shipway, tmp_path: Path) -> None:
    url = _deploy(shipway, tmp_path, "phpcli", CLI_SERVER_APP,
                  "<?php echo 'sapi=' . php_sapi_name();\n")
    assert shipway.fetch(url + "/") == (200, "sapi=cli-server")  # not FPM: the app's own server
    mark = shipway.app_data("phpcli") / "worker-queue" / "mounts" / "state" / "worker"
    wait_for(mark.exists, 30, "the worker's mark")
    assert mark.read_text() == "cli"
