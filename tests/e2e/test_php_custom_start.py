"""C6: a PHP app with its own start command (PHP's built-in server) still runs
it instead of PHP-FPM, and a PHP app's workers run their commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Shipway, make_repo, push, wait_for

pytestmark = pytest.mark.e2e

APP = """\
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


def test_c6_a_custom_start_and_a_worker(shipway: Shipway, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".platform").mkdir(parents=True)
    (repo / ".platform" / "routes.yaml").write_text(ROUTES)
    (repo / ".platform" / "services.yaml").write_text("{}\n")
    (repo / ".platform.app.yaml").write_text(APP)
    (repo / "public").mkdir()
    (repo / "public" / "index.php").write_text("<?php echo 'sapi=' . php_sapi_name();\n")
    make_repo(repo)
    remote = shipway.create_project("phpcli")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    url = shipway.url("phpcli").rstrip("/")
    assert shipway.fetch(url + "/") == (200, "sapi=cli-server")  # not FPM: the app's own server
    mark = shipway.app_data("phpcli") / "worker-queue" / "mounts" / "state" / "worker"
    wait_for(mark.exists, 30, "the worker's mark")
    assert mark.read_text() == "cli"
