"""The examples that mirror the common Platform.sh templates load unchanged
(SPEC C1, C3, C4) and agree with their own code: the relationship, module and
static directory names the config uses are the ones the code uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shipway.config import Location, Mount, Relationship, load_project, resolve_routes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DJANGO = EXAMPLES / "django"
EXPRESS = EXAMPLES / "express-mariadb"

# Both examples serve {default} and redirect www.{default} to it; every https
# route gets its http twin, which redirects to https.
ROUTES = [
    ("https://h.test/", "upstream", "app", None),
    ("http://h.test/", "redirect", None, "https://h.test/"),
    ("https://www.h.test/", "redirect", None, "https://h.test/"),
    ("http://www.h.test/", "redirect", None, "https://www.h.test/"),
]


def routes_of(path: Path) -> list[tuple[str, str, str | None, str | None]]:
    project = load_project(path)
    return [(r.url, r.type, r.upstream_app, r.to) for r in resolve_routes(project.routes, "h.test")]


def gitignored(example: Path) -> set[str]:
    lines = (example / ".gitignore").read_text().splitlines()
    return {line.strip().strip("/") for line in lines if line.strip() and not line.startswith("#")}


def test_django_loads_from_the_included_list_item() -> None:
    project = load_project(DJANGO)
    assert project.flavour == "platform"
    assert project.warnings == ()
    [app] = project.apps
    # `- !include pip.app.yaml` in .platform/applications.yaml; the code is at
    # the repository root, as in the public template (no source.root).
    assert (app.name, app.config_file, app.source_root) == ("app", ".platform/pip.app.yaml", "")
    assert (app.runtime, app.runtime_version, app.build_flavor) == ("python", "3.11", "none")
    assert dict(app.relationships) == {"database": Relationship("db", "postgresql")}
    assert dict(app.mounts) == {"logs": Mount("local", "logs"), "media": Mount("local", "media")}
    assert app.disk == 512


def test_django_hooks_and_web() -> None:
    app = load_project(DJANGO).app("app")
    assert app.hooks.build is not None
    assert app.hooks.build.splitlines() == [
        "set -e",
        "pip install -r requirements.txt",
        "python manage.py collectstatic --noinput",
    ]
    assert app.hooks.deploy == "python manage.py migrate --noinput\n"
    assert app.hooks.post_deploy is None
    assert app.web.socket_family == "unix"
    assert app.web.start is not None and app.web.start.startswith("gunicorn -b unix:$SOCKET ")
    assert dict(app.web.locations) == {
        "/": Location(passthru=True),
        "/static": Location(root="static", expires="1h", allow=True),
    }


def test_django_services_and_routes() -> None:
    project = load_project(DJANGO)
    # The public template pins postgresql:16; Debian 12 has 15 (see README).
    assert [(s.name, s.kind, s.version, s.disk) for s in project.services.values()] == [
        ("db", "postgresql", "15", 1024)]
    assert routes_of(DJANGO) == ROUTES


def test_django_code_matches_its_config() -> None:
    app = load_project(DJANGO).app("app")
    assert app.web.start is not None
    module = app.web.start.split()[3]  # gunicorn -b unix:$SOCKET <module> ...
    assert (DJANGO / (module.replace(".", "/") + ".py")).is_file()
    settings = (DJANGO / "shipsite" / "settings.py").read_text()
    # The router serves /static from the directory collectstatic fills.
    static_root = app.web.locations["/static"].root
    assert f'STATIC_ROOT = BASE_DIR / "{static_root}"' in settings
    assert 'database_from_relationship("database")' in settings
    assert (DJANGO / "visits" / "migrations" / "0001_initial.py").is_file()
    # gunicorn 24+ writes a control socket under the read-only $HOME.
    assert "gunicorn>=23,<24" in (DJANGO / "requirements.txt").read_text().splitlines()
    # Build output and mount contents stay out of git.
    assert {static_root, *app.mounts, "__pycache__"} <= gitignored(DJANGO)


def test_express_loads_from_the_single_file() -> None:
    project = load_project(EXPRESS)
    assert project.flavour == "platform"
    assert project.warnings == ()
    [app] = project.apps
    assert (app.name, app.config_file, app.source_root) == ("app", ".platform.app.yaml", "")
    assert (app.runtime, app.runtime_version) == ("nodejs", "20")
    # No hooks at all: the default flavor's npm install is the whole build.
    assert app.build_flavor == "default"
    assert (app.hooks.build, app.hooks.deploy, app.hooks.post_deploy) == (None, None, None)
    assert dict(app.relationships) == {"database": Relationship("db", "mysql")}
    assert (app.web.socket_family, app.web.start) == ("tcp", "node server.js")
    assert dict(app.mounts) == {}
    assert app.disk == 512


def test_express_services_and_routes() -> None:
    project = load_project(EXPRESS)
    # The public template pins mariadb:10.4; Debian 12 has 10.11 (see README).
    assert [(s.name, s.kind, s.version, s.disk) for s in project.services.values()] == [
        ("db", "mariadb", "10.11", 512)]
    assert routes_of(EXPRESS) == ROUTES


def test_express_code_matches_its_config() -> None:
    app = load_project(EXPRESS).app("app")
    assert app.web.start is not None
    script = app.web.start.split()[1]
    assert (EXPRESS / script).is_file()
    package = json.loads((EXPRESS / "package.json").read_text())
    assert {"express", "mysql2", "platformsh-config"} <= set(package["dependencies"])
    server = (EXPRESS / script).read_text()
    [relationship] = app.relationships
    assert re.search(rf'config\.credentials\("{relationship}"\)', server)
    assert "process.env.PORT" in server
    assert "node_modules" in gitignored(EXPRESS)
