"""S2: a PHP app's scripts are never served as static files (router side)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.config import load_project
from shipway.router.caddyconfig import SCRIPT_REFUSED_BODY, _location_files
from shipway.router.plan import RoutedApp, _locations, script_warning
from shipway.router.table import LocationRule, StaticLocation, is_script

PROXY = {"handler": "reverse_proxy"}


@pytest.mark.parametrize(("path", "script"), [
    ("/index.php", True), ("/wp-config.php", True), ("/WP-CONFIG.PHP", True),
    ("/a/b.php5", True), ("/x.phtml", True), ("/x.phar", True), ("/x.phps", True),
    ("/index.php/some/path", True), ("/dir.php/", True),
    ("/index.html", False), ("/php/readme.txt", False), ("/x.php.txt", False),
    ("/x.phpx", False), ("/phpinfo", False), ("/", False),
])
def test_which_paths_are_scripts(path: str, script: bool) -> None:
    assert is_script(path) is script


def _summary(routes: list[dict[str, object]]) -> list[str]:
    out = []
    for route in routes:
        handle = route["handle"]
        assert isinstance(handle, list)
        kinds = [h.get("handler") for h in handle]
        out.append("refuse" if any(h.get("body") == SCRIPT_REFUSED_BODY for h in handle)
                   else "serve" if "file_server" in kinds else "passthru")
    return out


def test_a_php_location_refuses_scripts_before_it_serves_files() -> None:
    location = StaticLocation("/", root="/srv/web", passthru="/index.php",
                              index=("index.php", "index.html"), refuse_scripts=True)
    routes = _location_files(location, PROXY)
    assert _summary(routes) == ["refuse", "serve", "passthru"]
    refuse, serve, _ = routes
    match = refuse["match"][0]  # type: ignore[index]
    assert match["path_regexp"]["pattern"] == r"(?i)\.(php[0-9]?|phtml|phar|phps)(/|$)"
    assert refuse["handle"][0]["status_code"] == 403  # type: ignore[index]
    # A script is never the index a directory request is answered with.
    tries = serve["match"][0]["file"]["try_files"]  # type: ignore[index]
    assert tries == ["{http.regexp.loc.1}", "{http.regexp.loc.1}/index.html"]


def test_a_rule_keeps_the_refusal() -> None:
    location = StaticLocation("/", root="/srv/web", refuse_scripts=True,
                              rules=(LocationRule(r"\.txt$", expires="1h"),))
    assert location.with_rule(location.rules[0]).refuse_scripts


def test_other_apps_and_disallowed_locations_have_no_refusal() -> None:
    assert _summary(_location_files(StaticLocation("/", root="/srv", index=("index.php",)), PROXY)) \
        == ["serve", "passthru"]
    assert _summary(_location_files(StaticLocation("/", root="/srv", allow=False,
                                                   refuse_scripts=True), PROXY)) == ["passthru"]


@pytest.mark.parametrize(("app_type", "refused"), [("php:8.2", True), ("python:3.11", False),
                                                    ("nodejs:20", False)])
def test_php_apps_get_the_refusal(tmp_path: Path, app_type: str, refused: bool) -> None:
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform/services.yaml").write_text("{}\n")
    (tmp_path / ".platform.app.yaml").write_text(
        f"name: app\ntype: '{app_type}'\nweb:\n  commands: {{start: run}}\n  locations:\n"
        "    /:\n      root: web\n      passthru: /index.php\n")
    app = load_project(tmp_path).apps[0]
    (location,) = _locations(RoutedApp(app, "127.0.0.1:1", "/srv/current"))
    assert location.refuse_scripts is refused


@pytest.mark.parametrize("start", ["  commands: {start: run}\n", ""])
def test_the_push_warns_only_for_php_apps_that_serve_files(tmp_path: Path, start: str) -> None:
    """C6: with no start command PHP-FPM runs the scripts, so there is nothing to warn about."""
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform/services.yaml").write_text("{}\n")
    (tmp_path / ".platform.app.yaml").write_text(
        f"name: app\ntype: 'php:8.2'\nweb:\n{start}  locations:\n"
        "    /:\n      root: web\n    /api:\n      passthru: true\n")
    app = load_project(tmp_path).apps[0]
    warning = script_warning(app)
    if not start:
        assert warning is None
        return
    assert warning is not None and "'/'" in warning and "/api" not in warning
    assert "not run by PHP-FPM" in warning
