"""Whole repositories shaped like the public templates load unchanged (SPEC C1)."""

from __future__ import annotations

from pathlib import Path

from shipway.config import Location, Mount, Relationship, load_project, resolve_routes

FIXTURES = Path(__file__).parent / "config_fixtures"
PENDING = "accepted by Platform.sh but not implemented by shipway yet; ignored"


def test_flask() -> None:
    project = load_project(FIXTURES / "flask")
    app = project.app("flask")
    assert (app.runtime_version, app.build_flavor, app.disk) == ("3.10", "none", 1024)
    assert dict(app.relationships) == {"database": Relationship("db", "mysql"),
                                       "rediscache": Relationship("cache", "redis")}
    assert app.variables["env"]["POETRY_VIRTUALENVS_IN_PROJECT"] is True
    assert app.hooks.build is not None and app.hooks.build.startswith("set -e\n")
    assert dict(app.dependencies) == {"python3": {"poetry": "*"}}
    assert [(s.kind, s.version, s.disk) for s in project.services.values()] == [
        ("mariadb", "10.4", 2048), ("redis", "5.0", None)]
    assert [(w.key, w.message) for w in project.warnings] == [("source.operations", PENDING)]


def test_django4() -> None:
    project = load_project(FIXTURES / "django4")
    app = project.app("app")
    assert (app.source_root, app.config_file) == ("", ".platform/pip.app.yaml")
    assert (app.web.socket_family, app.hooks.deploy) == ("unix", "python manage.py migrate")
    assert dict(app.mounts) == {"logs": Mount("local", "logs")}
    assert app.web.locations["/static"] == Location(root="static", expires="1h")
    assert project.warnings == ()


def test_laravel() -> None:
    project = load_project(FIXTURES / "laravel")
    app = project.app("app")
    assert (app.build_flavor, app.web.socket_family, app.web.protocol, app.web.start) == (
        "composer", "unix", "fastcgi", None)
    assert app.mounts["bootstrap/cache"].source_path == app.mounts[
        "storage/framework/cache"].source_path == "cache"
    assert ".config" in app.mounts
    assert {n: (w.start, w.disk, len(w.mounts)) for n, w in app.workers.items()} == {
        "queue": ("php artisan queue:work", 256, 7),
        "scheduler": ("php artisan schedule:work", 256, 7)}
    primary = [r.url for r in resolve_routes(project.routes, "h.test") if r.primary]
    assert primary == ["https://www.h.test/"]
    # runtime.extensions and scripts are C6's now: only the sizes are not implemented.
    assert sorted(w.key for w in project.warnings) == ["workers.queue.size", "workers.scheduler.size"]


def test_multi_app_discovery() -> None:
    project = load_project(FIXTURES / "multi")
    assert [(a.name, a.source_root) for a in project.apps] == [
        ("base", ""), ("discreet", "discreet"), ("php", "php")]
    discreet = project.app("discreet")
    assert discreet.web.locations["/"].root == "web"
    assert dict(discreet.variables["env"]) == {"BANNER": "hello\n", "ICON": "R0lGOA=="}
    assert [r.upstream_app for r in resolve_routes(project.routes, "h.test")
            if r.type == "upstream"] == ["base", "discreet", "php"]
    assert dict(project.services) == {}
