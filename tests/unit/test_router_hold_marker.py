"""The hold marker's file life (deploy/gate.py) and its way into the route table."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from shipway.config.load import load_project
from shipway.config.routes import resolve_routes
from shipway.deploy import gate
from shipway.deploy.instances import Instance
from shipway.router.plan import RoutedApp, RoutedEnvironment, sites
from shipway.router.table import Site, Upstream


def test_marker_is_per_app_and_beside_nothing_the_app_can_write(tmp_path: Path) -> None:
    a = gate.hold_marker(Instance(tmp_path, "shop", "main", "app"))
    b = gate.hold_marker(Instance(tmp_path, "shop", "main", "api"))
    assert a.parent == b.parent == tmp_path / "holds"
    assert a != b
    assert a == gate.hold_marker(Instance(tmp_path, "shop", "main", "app"))


def test_begin_and_end_hold(tmp_path: Path) -> None:
    marker = tmp_path / "holds" / "0123abcd"
    old = os.umask(0o077)
    try:
        gate.begin_hold(marker)
    finally:
        os.umask(old)
    assert marker.is_file()
    # The router's unprivileged uid must be able to stat it: search on the dir.
    assert stat.S_IMODE(marker.parent.stat().st_mode) == 0o711
    gate.begin_hold(marker)  # a second deploy step holding again is fine
    gate.end_hold(marker)
    assert not marker.exists()
    gate.end_hold(marker)  # ending twice (a failed deploy's cleanup) is fine


def test_clear_holds_removes_markers_left_by_an_interrupted_deploy(tmp_path: Path) -> None:
    assert gate.clear_holds(tmp_path) == []
    for name in ("a", "b"):
        gate.begin_hold(tmp_path / "holds" / name)
    assert [p.name for p in gate.clear_holds(tmp_path)] == ["a", "b"]
    assert list((tmp_path / "holds").iterdir()) == []


APP_HEAD = "name: app\ntype: python:3.11\nweb:\n  commands:\n    start: x\n"


def _sites(root: Path, app: str, routes: str | None = None, hold_marker: str | None = None
           ) -> list[Site]:
    """The route table of one environment of the project written into `root`."""
    (root / ".platform").mkdir()
    (root / ".platform.app.yaml").write_text(APP_HEAD + app)
    if routes is not None:
        (root / ".platform" / "routes.yaml").write_text(routes)
    config = load_project(root)
    routed = RoutedApp(config.apps[0], "unix//srv/u/x.sock", "/srv/current/app",
                       hold_marker=hold_marker)
    return sites([RoutedEnvironment(resolve_routes(config.routes, "main.localhost"), {"app": routed})])


def test_routed_app_marker_reaches_every_upstream_site(tmp_path: Path) -> None:
    table = _sites(tmp_path, "  locations:\n    /static:\n      root: static\n",
                   '"https://{default}/": {type: upstream, upstream: "app:http"}\n'
                   '"http://{default}/api": {type: upstream, upstream: "app:http"}\n'
                   '"https://www.{default}/": {type: redirect, to: "https://{default}/"}\n',
                   hold_marker="/srv/holds/x")
    upstreams = [s.action for s in table if isinstance(s.action, Upstream)]
    assert len(upstreams) == 2
    assert {u.hold_marker for u in upstreams} == {"/srv/holds/x"}


def test_location_rules_reach_the_route_table(tmp_path: Path) -> None:
    table = _sites(tmp_path, "  locations:\n    /:\n      root: web\n      passthru: true\n"
                   "      rules:\n        '\\.(css|js)$': {expires: 1h, headers: {X-Kind: asset}}\n"
                   "        '^/private/': {allow: false, passthru: false}\n")
    (location,) = next(s for s in table if s.locations).locations
    assert [(r.pattern, r.expires, r.allow, r.passthru) for r in location.rules] == [
        (r"\.(css|js)$", "1h", None, None), ("^/private/", None, False, False)]
    assert location.with_rule(location.rules[0]).headers == {"X-Kind": "asset"}
    assert location.with_rule(location.rules[1]).passthru is False


def test_partial_redirects_reach_the_route_table(tmp_path: Path) -> None:
    table = _sites(tmp_path, "",
                   '"https://{default}/":\n  type: upstream\n  upstream: "app:http"\n  redirects:\n'
                   '    expires: 1d\n    paths:\n      /old: {to: /new}\n'
                   '      "^/b/(.*)$": {to: "https://blog.test/$1", regexp: true, code: 301, expires: 1h}\n')
    (secure,) = [s for s in table if s.scheme == "https"]
    assert [(r.path, r.to, r.code, r.regexp, r.expires) for r in secure.redirects] == [
        ("/old", "/new", 302, False, "1d"), ("^/b/(.*)$", "https://blog.test/$1", 301, True, "1h")]
    # The http twin sends everything to https first; the redirects apply there.
    assert all(not s.redirects for s in table if s.scheme == "http")
