"""Must-hold 1 of issue 12 (C6, C6a): the PHP front-controller example under
examples/php, deployed by a real shipway: PHP-FPM behind the router's
FastCGI transport, MariaDB, a served mount, a held deploy."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def site(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    remote = shipway.create_project("php")
    repo = make_repo(tmp_path_factory.mktemp("php") / "repo", "php")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    app_log = shipway.home / "logs" / "php" / "main" / "app" / "app.log"
    assert out.returncode == 0, log + (app_log.read_text() if app_log.exists() else "")
    return {"remote": remote, "repo": repo, "log": log, "url": shipway.url("php").rstrip("/")}


def _json(shipway: Shipway, url: str) -> dict[str, Any]:
    code, body = shipway.fetch(url)
    assert code == 200, (code, body)
    return json.loads(body)  # type: ignore[no-any-return]


def test_c6_root_runs_the_front_controller_with_its_ini_and_database(shipway: Shipway,
                                                                      site: dict[str, Any]) -> None:
    seen = _json(shipway, site["url"] + "/")
    assert seen["controller"] == "index.php" and seen["script"] == "/index.php"
    assert seen["memory_limit"] == "256M"  # variables.php
    assert seen["extensions"] == {"redis": True, "xsl": False}  # runtime.(disabled_)extensions
    assert seen["project"]  # FPM passes the PLATFORM_* variables (clear_env = no)
    assert seen["database"].split(".")[0] == "10", seen["database"]  # MariaDB 10.x


def test_c6_a_pretty_path_reaches_the_front_controller(shipway: Shipway, site: dict[str, Any]) -> None:
    seen = _json(shipway, site["url"] + "/some/pretty/path?x=1")
    assert seen["controller"] == "index.php" and seen["path"] == "/some/pretty/path"


def test_c6_a_static_file_is_served_by_the_router(shipway: Shipway, site: dict[str, Any]) -> None:
    code, headers = shipway.fetch(site["url"] + "/css/site.css", "-D", "-", "-o", "/dev/null")
    assert code == 200
    assert "x-served-by" not in headers.lower()  # PHP never saw it
    assert "cache-control: max-age=3600" in headers.lower()  # expires: 1h, static files only
    code, body = shipway.fetch(site["url"] + "/css/site.css")
    assert "font-family" in body


def test_c6_a_script_under_scripts_false_is_not_executed(shipway: Shipway, site: dict[str, Any]) -> None:
    code, body = shipway.fetch(site["url"] + "/files/report.php")
    assert code == 403 and "never run" not in body and "<?php" not in body
    code, body = shipway.fetch(site["url"] + "/files/readme.txt")
    assert code == 200 and "Documents" in body


def test_c6_code_is_read_only_and_the_mount_writable(shipway: Shipway, site: dict[str, Any]) -> None:
    seen = _json(shipway, site["url"] + "/write?name=note.txt&text=written-at-run-time")
    assert seen["mount_written"] is True
    assert seen["code_written"] is False and "Read-only file system" in (seen["code_error"] or "")


def test_c6a_a_mount_under_a_location_serves_what_the_app_wrote(shipway: Shipway,
                                                                site: dict[str, Any]) -> None:
    _json(shipway, site["url"] + "/write?name=served.txt&text=from-the-mount")
    code, body = shipway.fetch(site["url"] + "/uploads/served.txt")
    assert (code, body) == (200, "from-the-mount")


def test_c6_d2_requests_wait_for_the_deploy_hook(shipway: Shipway, site: dict[str, Any]) -> None:
    """A request sent while the 2 s deploy hook runs is answered by the new release."""
    repo: Path = site["repo"]
    (repo / "release.txt").write_text("two\n")
    commit(repo, "release two")
    result: dict[str, Any] = {}
    pusher = threading.Thread(target=lambda: result.update(out=push(repo, site["remote"])))
    pusher.start()
    mark = shipway.app_data("php") / "mounts" / "uploads" / "deploy-hook-started"
    mark.unlink(missing_ok=True)
    deadline = time.monotonic() + 120
    while not mark.exists():  # the deploy hook has started: requests are held
        assert time.monotonic() < deadline and pusher.is_alive(), result
        time.sleep(0.05)
    started = time.monotonic()
    seen = _json(shipway, site["url"] + "/during-the-hook")
    waited = time.monotonic() - started
    pusher.join()
    assert result["out"].returncode == 0, result["out"].stdout + result["out"].stderr
    assert seen["release"] == "two", seen
    log = result["out"].stdout + result["out"].stderr
    assert waited > 0.5, (waited, log)  # it waited for the hook, not for nothing
    assert "held 1 request" in log, log
    stop = re.search(r"^remote:\s+StopProcesses\s+([\d.]+) s", log, re.M)
    assert stop and float(stop[1]) < 5, log  # FPM stops on TERM, not after the grace


def test_c6a_a_deactivated_environment_leaves_no_mount_view(shipway: Shipway,
                                                           site: dict[str, Any]) -> None:
    """The router's views of served mounts go with the environment: none pins its volume."""
    shipway.cli("environment:branch", "feat", "main", "-p", "php")
    url = shipway.url("php", "feat").rstrip("/")
    _json(shipway, url + "/write?name=branch.txt&text=on-the-branch")
    assert shipway.fetch(url + "/uploads/branch.txt") == (200, "on-the-branch")
    views = shipway.home / "served-mounts"
    mounted = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
               if line.split()[4].startswith(str(views))]
    assert len(mounted) == 2, mounted  # main's and feat's uploads
    shipway.cli("environment:deactivate", "feat", "-p", "php")
    left = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4].startswith(str(views))]
    assert len(left) == 1, left  # main's only
    assert shipway.fetch(site["url"] + "/uploads/served.txt") == (200, "from-the-mount")
