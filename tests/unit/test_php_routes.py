"""C6, C6a, C7 decisions: what answers an app, and how its locations become
router routes (PHP-FPM over FastCGI, mounts served through their views)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipway.config import load_project
from shipway.config.model import AppConfig
from shipway.deploy import mountviews
from shipway.errors import ConfigError
from shipway.router.caddyconfig import SCRIPT_NOT_RUN_BODY, _location_files, _proxy, _upstream
from shipway.router.plan import RoutedApp, _locations, served_root
from shipway.router.table import LocationRule, StaticLocation, Upstream
from shipway.webkind import WebKind, listens, only_sleeps, web_kind

PROXY = {"handler": "reverse_proxy", "transport": {"protocol": "fastcgi"}}


def app_of(tmp_path: Path, yaml: str) -> AppConfig:
    (tmp_path / ".platform").mkdir(exist_ok=True)
    (tmp_path / ".platform/services.yaml").write_text("{}\n")
    (tmp_path / ".platform.app.yaml").write_text(yaml)
    return load_project(tmp_path).apps[0]


STATIC = "  locations:\n    /:\n      root: out\n      index: [index.html]\n"


@pytest.mark.parametrize(("yaml", "kind"), [
    ("name: a\ntype: php:8.2\nweb:\n" + STATIC, WebKind.FPM),
    ("name: a\ntype: php:8.2\n", WebKind.FPM),
    ("name: a\ntype: php:8.2\nweb:\n  commands: {start: php -S 0.0.0.0:$PORT}\n", WebKind.COMMAND),
    ("name: a\ntype: python:3.11\nweb:\n  commands: {start: sleep infinity}\n" + STATIC, WebKind.STATIC),
    ("name: a\ntype: nodejs:18\nweb:\n" + STATIC, WebKind.STATIC),
    ("name: a\ntype: python:3.11\nweb:\n  commands: {start: gunicorn app}\n" + STATIC, WebKind.COMMAND),
    # A sleep with passthru: something must answer, so it is the app's business.
    ("name: a\ntype: python:3.11\nweb:\n  commands: {start: sleep infinity}\n", WebKind.COMMAND),
])
def test_c6_c7_what_answers_an_app(tmp_path: Path, yaml: str, kind: WebKind) -> None:
    app = app_of(tmp_path, yaml)
    assert web_kind(app) is kind
    assert listens(app) is (kind is not WebKind.STATIC)


@pytest.mark.parametrize(("start", "sleeps"), [
    (None, True), ("sleep infinity", True), ("exec sleep 3600", True), ("  sleep 1d ", True),
    ("sleep infinity; rm -rf /", False), ("gunicorn app", False), ("sleep", False),
])
def test_c7_only_sleeps(start: str | None, sleeps: bool) -> None:
    assert only_sleeps(start) is sleeps


def test_c7_no_start_is_refused_only_when_nothing_could_be_served(tmp_path: Path) -> None:
    app_of(tmp_path, "name: a\ntype: nodejs:18\nweb:\n" + STATIC)  # accepted
    with pytest.raises(ConfigError, match="when a location passes requests through"):
        app_of(tmp_path, "name: a\ntype: nodejs:18\nweb:\n  locations:\n    /:\n"
                         "      passthru: true\n")  # no root: nothing at all to answer
    with pytest.raises(ConfigError, match="web.commands.start is required"):
        app_of(tmp_path, "name: a\ntype: nodejs:18\n")  # no locations: `/` passes through


def test_c7_no_start_with_a_root_and_passthru_serves_files_with_a_warning(tmp_path: Path) -> None:
    """upsun/demo-js's main_app: a root, `passthru: true`, no start (Upsun serves dist/)."""
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform/services.yaml").write_text("{}\n")
    (tmp_path / ".platform.app.yaml").write_text(
        "name: a\ntype: nodejs:22\nweb:\n  locations:\n    /:\n      root: dist\n"
        "      passthru: true\n      index: [index.html]\n")
    project = load_project(tmp_path)
    app = project.apps[0]
    assert web_kind(app) is WebKind.STATIC and not listens(app)
    assert any("nothing runs to answer passthru" in w.message for w in project.warnings)


def _routes(location: StaticLocation) -> list[str]:
    """A summary of a PHP location's routes: what each one does."""
    out = []
    for route in _location_files(location, PROXY):
        handle = route["handle"]
        if handle[0].get("handler") == "subroute":
            inner = [_kind(r["handle"]) for r in handle[0]["routes"]]
            out.append("file? " + " | ".join(inner))
        else:
            out.append(_kind(handle))
    return out


def _kind(handle: list[dict[str, Any]]) -> str:
    names = [h.get("handler") for h in handle]
    if "file_server" in names:
        return "serve"
    if any(h.get("body") == SCRIPT_NOT_RUN_BODY for h in handle):
        return "403"
    if handle[0].get("status_code") == 404:
        return "404"
    rewrite = handle[0].get("uri") if names[0] == "rewrite" else None
    return f"php({rewrite})" if rewrite else "php"


FRONT = StaticLocation("/", root="/srv/cur/web", passthru="/index.php", index=("index.php",),
                       script_root="/app/web")


@pytest.mark.parametrize(("location", "summary"), [
    (FRONT, ["file? php({http.matchers.file.relative}{http.matchers.file.remainder}) | serve",
             "php(/index.php)"]),
    (StaticLocation("/", root="/srv/f", scripts=False, script_root="/app/f"),
     ["file? 403 | serve", "404"]),
    (StaticLocation("/", root="/srv/f", scripts=False, allow=False, script_root="/app/f"), ["404"]),
    (StaticLocation("/", root="/srv/f", allow=False, passthru=True, script_root="/app/f"),
     ["file? php({http.matchers.file.relative}{http.matchers.file.remainder}) | php", "php"]),
])
def test_c6_php_locations(location: StaticLocation, summary: list[str]) -> None:
    assert _routes(location) == summary


def test_c6_scripts_are_found_in_the_routers_view_split_at_php() -> None:
    found = _location_files(FRONT, PROXY)[0]["match"][0]["file"]
    assert found == {"root": "/srv/cur/web", "split_path": [".php"],
                     "try_files": ["{http.regexp.loc.1}", "{http.regexp.loc.1}/index.php"]}


def test_c6_a_script_index_is_not_tried_where_scripts_do_not_run() -> None:
    loc = StaticLocation("/", root="/srv", index=("index.php", "index.html"), scripts=False,
                         script_root="/app")
    assert loc.served_index == ("index.html",)


def test_c6_a_rule_can_turn_scripts_off() -> None:
    loc = StaticLocation("/", root="/srv", script_root="/app",
                         rules=(LocationRule(r"^/vendor/", scripts=False),))
    assert loc.with_rule(loc.rules[0]).scripts is False


def test_c6_fastcgi_transport_roots_at_the_sandbox_path() -> None:
    upstream = Upstream("unix//h/u/x.sock", hold_marker="/h/holds/x", fastcgi=True)
    proxy = _proxy(upstream, "60s", "/app/wordpress")
    held, down = proxy["routes"]
    for route in (held, down):
        assert route["handle"][0]["transport"] == {"protocol": "fastcgi", "root": "/app/wordpress",
                                                   "split_path": [".php"]}
    assert held["handle"][0]["load_balancing"]["try_duration"] == "60s"  # D2 holds FastCGI too
    site = _upstream(upstream, (FRONT,), "60s")[0]["routes"]
    assert site[-1]["handle"][0]["routes"][0]["handle"][0]["transport"]["root"] == "/app"


@pytest.mark.parametrize("target", ["/../../etc/passwd", "/a/../../b.php", "/./index.php", "//x.php",
                                    "/index.php?x=1", "/{http.request.uri}", "relative.php"])
def test_passthru_targets_are_plain_paths(target: str) -> None:
    """Attack: a passthru target never climbs out of the root or names a placeholder."""
    with pytest.raises(ValueError, match="passthru"):
        StaticLocation("/", root="/srv", passthru=target)
    with pytest.raises(ValueError, match="passthru"):
        LocationRule(r"\.x$", passthru=target)


WORDPRESS = """\
name: app
type: php:8.2
mounts:
  wordpress/wp-content/uploads: {source: local, source_path: uploads}
  wordpress/wp-content/cache: {source: local, source_path: cache}
  logs: {source: tmp}
web:
  locations:
    /:
      root: wordpress
      passthru: /index.php
    /wp-content/cache:
      root: wordpress/wp-content/cache
      scripts: false
      allow: false
"""


def test_c6a_a_location_in_a_mount_and_a_mount_in_a_location(tmp_path: Path) -> None:
    app = app_of(tmp_path, WORDPRESS)
    assert mountviews.served(app) == ("wordpress/wp-content/cache", "wordpress/wp-content/uploads")
    views = mountviews.view_paths(app, Path("/h/served-mounts/d"))
    locations = {loc.path: loc for loc in _locations(RoutedApp(app, "unix//x", "/h/cur", mount_views=views))}
    cache = views["wordpress/wp-content/cache"]
    uploads = views["wordpress/wp-content/uploads"]
    assert locations["/"].root == "/h/cur/wordpress"
    assert locations["/wp-content/cache"].root == cache  # its own location, its own fields
    assert locations["/wp-content/cache"].scripts is False
    # No location of its own: the `/` location again, rooted in the mount.
    assert locations["/wp-content/uploads"].root == uploads
    assert locations["/wp-content/uploads"].script_root == "/app/wordpress/wp-content/uploads"
    assert locations["/wp-content/uploads"].passthru == "/index.php"


@pytest.mark.parametrize(("rel", "where"), [
    ("wordpress", "/cur/wordpress"), ("up", "/v/1"), ("up/a/b", "/v/1/a/b"), ("upper", "/cur/upper"),
    ("up/in", "/v/2"), ("up/in/x", "/v/2/x"),
])
def test_c6a_served_root_prefers_the_deepest_mount(rel: str, where: str) -> None:
    assert served_root(rel, "/cur", {"up": "/v/1", "up/in": "/v/2"}) == where


def test_c6a_views_are_named_by_source_not_by_path(tmp_path: Path) -> None:
    app = app_of(tmp_path, WORDPRESS)
    first = mountviews.view_name(app.mounts["wordpress/wp-content/uploads"])
    moved = app_of(tmp_path, WORDPRESS.replace("wordpress/wp-content/uploads: ", "wordpress/up: "))
    assert mountviews.view_name(moved.mounts["wordpress/up"]) == first


def test_c7_a_static_app_answers_404_where_no_file_is() -> None:
    upstream = Upstream("127.0.0.1:9", hold_marker="/h/holds/x", static=True)
    loc = StaticLocation("/docs", root="/srv/docs")
    routes = _upstream(upstream, (loc,), "60s")[0]["routes"]
    assert routes[-1]["handle"][0]["status_code"] == 404  # outside every location
    assert "reverse_proxy" not in repr(routes)  # nothing is ever dialled
