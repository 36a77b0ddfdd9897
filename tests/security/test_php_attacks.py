"""Attacks on PHP apps (issue 12, C6, C6a), against a real shipway.

- A symlink the app leaves in a served mount (to /etc/passwd, to /etc) is
  never followed by the router (its view of the mount is `nosymfollow`).
- A .php file the app writes into a mount under a `scripts: false`
  location is neither executed nor shown.
- Config that tries to smuggle FPM directives (`variables.php` with a line
  break), to climb out of the root (passthru `..`), or to load a file as an
  extension (`../`) is refused at push, and the running release keeps
  serving.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import EXAMPLES, Shipway, commit, git, make_repo, push

pytestmark = pytest.mark.e2e

# What a compromised or malicious app does at run time, through its own PHP.
ATTACK_PHP = """<?php
header('Content-Type: application/json');
$up = '/app/uploads';
@unlink("$up/passwd.txt"); @unlink("$up/etcdir");
echo json_encode([
    'file_link' => symlink('/etc/passwd', "$up/passwd.txt"),
    'dir_link' => symlink('/etc', "$up/etcdir"),
    'script' => file_put_contents("$up/evil.php", "<?php echo 'ran' . 'here';") !== false,
]);
"""


@pytest.fixture(scope="module")
def site(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = tmp_path_factory.mktemp("phpatk") / "repo"
    shutil.copytree(EXAMPLES / "php", repo)
    (repo / "public" / "attack.php").write_text(ATTACK_PHP)
    make_repo(repo)
    remote = shipway.create_project("phpatk")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    url = shipway.url("phpatk").rstrip("/")
    code, body = shipway.fetch(url + "/attack.php")
    assert code == 200, body
    assert json.loads(body) == {"file_link": True, "dir_link": True, "script": True}
    return {"repo": repo, "remote": remote, "url": url}


def test_c6a_a_symlink_in_a_served_mount_is_not_followed(shipway: Shipway, site: dict[str, Any]) -> None:
    for path in ("/uploads/passwd.txt", "/uploads/etcdir/passwd", "/uploads/etcdir/hostname"):
        code, body = shipway.fetch(site["url"] + path)
        assert code != 200 and "root:" not in body, (path, code, body)
    # The mount itself is served: the defence is not "serve nothing".
    shipway.fetch(site["url"] + "/write?name=plain.txt&text=plain")
    assert shipway.fetch(site["url"] + "/uploads/plain.txt") == (200, "plain")


def test_c6_a_php_file_written_into_a_scripts_false_mount_never_runs(shipway: Shipway,
                                                                    site: dict[str, Any]) -> None:
    for path in ("/uploads/evil.php", "/uploads/evil.php/x", "/uploads/EVIL.PHP"):
        code, body = shipway.fetch(site["url"] + path)
        assert code in (403, 404) and "ranhere" not in body and "<?php" not in body, (path, body)


def _refused(shipway: Shipway, site: dict[str, Any], edit: str, old: str, new: str) -> str:
    repo: Path = site["repo"]
    cfg = repo / ".platform.app.yaml"
    original = cfg.read_text()
    assert old in original
    cfg.write_text(original.replace(old, new, 1))
    commit(repo, edit)
    try:
        out = push(repo, site["remote"])
    finally:
        cfg.write_text(original)
        git(repo, "reset", "-q", "--hard", "HEAD~1")
    assert out.returncode != 0, out.stdout + out.stderr
    code, body = shipway.fetch(site["url"] + "/")
    assert code == 200 and json.loads(body)["memory_limit"] == "256M"  # the old release serves
    return out.stdout + out.stderr


def test_c6_variables_php_cannot_add_fpm_directives(shipway: Shipway, site: dict[str, Any]) -> None:
    log = _refused(shipway, site, "ini injection", "memory_limit: 256M",
                   'memory_limit: "1\\nphp_admin_value[open_basedir]=/"')
    assert "variables.php: memory_limit" in log and "not a plain php.ini value" in log


def test_c6_variables_php_names_cannot_add_directives(shipway: Shipway, site: dict[str, Any]) -> None:
    log = _refused(shipway, site, "ini name injection", "memory_limit: 256M",
                   '"memory_limit] = 1 php_admin_value[disable_functions": "x"')
    assert "is not a php.ini setting name" in log


def test_c6_passthru_cannot_climb_out_of_the_root(shipway: Shipway, site: dict[str, Any]) -> None:
    log = _refused(shipway, site, "passthru traversal", 'passthru: "/index.php"',
                   'passthru: "/../../../etc/passwd"')
    assert "passthru" in log and "'..'" in log


def test_c6_extension_names_cannot_name_files(shipway: Shipway, site: dict[str, Any]) -> None:
    log = _refused(shipway, site, "extension traversal", "    - redis\n",
                   "    - ../../../tmp/evil\n")
    assert "is not an extension name" in log


def test_c6_a_missing_extension_names_its_package(shipway: Shipway, site: dict[str, Any]) -> None:
    log = _refused(shipway, site, "missing extension", "    - redis\n",
                   "    - sourceguardian\n    - redis\n")
    assert "php8.2-sourceguardian" in log and "php8.2-redis" not in log  # redis is installed
