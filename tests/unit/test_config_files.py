"""Each file form of SPEC C1 / reference §0 loads into the same model."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from shipway.config import ProjectConfig, load_project
from shipway.errors import NotFound

START = "web:\n  commands:\n    start: run\n"


def load(root: Path, files: dict[str, str | bytes]) -> ProjectConfig:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    return load_project(root)


def app_file(name: str, type_: str = "python:3.11", extra: str = "") -> str:
    return f"name: {name}\ntype: {type_}\n{START}{extra}"


# (id, files, [(name, source_root, config_file)], flavour)
LAYOUTS = [
    ("single file", {".platform.app.yaml": app_file("app")},
     [("app", "", ".platform.app.yaml")], "platform"),
    ("sub-folder apps", {"backend/.platform.app.yaml": app_file("api"),
                         "frontend/web/.platform.app.yaml": app_file("web", "nodejs:20")},
     [("api", "backend", "backend/.platform.app.yaml"),
      ("web", "frontend/web", "frontend/web/.platform.app.yaml")], "platform"),
    ("nested apps", {".platform.app.yaml": app_file("parent"),
                     "child/.platform.app.yaml": app_file("child")},
     [("parent", "", ".platform.app.yaml"), ("child", "child", "child/.platform.app.yaml")],
     "platform"),
    ("explicit source.root", {"config/.platform.app.yaml": app_file("app", extra="source:\n  root: /src/\n"),
                              "src/main.py": ""},
     [("app", "src", "config/.platform.app.yaml")], "platform"),
    ("source.root of the repo", {"sub/.platform.app.yaml": app_file("app", extra="source: {root: /}\n")},
     [("app", "", "sub/.platform.app.yaml")], "platform"),
    ("depth 4 is searched, 5 is not",
     {"a/b/c/d/.platform.app.yaml": app_file("deep"),
      "a/b/c/d/e/.platform.app.yaml": app_file("deeper")},
     [("deep", "a/b/c/d", "a/b/c/d/.platform.app.yaml")], "platform"),
    ("skipped folders", {".platform.app.yaml": app_file("app"),
                         "node_modules/x/.platform.app.yaml": app_file("n"),
                         "vendor/.platform.app.yaml": app_file("v"),
                         "builds/.platform.app.yaml": app_file("b"),
                         ".idea/.platform.app.yaml": app_file("i"),
                         ".git/.platform.app.yaml": app_file("g")},
     [("app", "", ".platform.app.yaml")], "platform"),
    ("applications list with !include",
     {".platform/applications.yaml": "- !include pip.app.yaml\n",
      ".platform/pip.app.yaml": app_file("app")},
     [("app", "", ".platform/pip.app.yaml")], "platform"),
    ("applications list inline with source.root",
     {".platform/applications.yaml": "- name: php\n  type: php:8.2\n  source:\n    root: php\n",
      "php/index.php": ""},
     [("php", "php", ".platform/applications.yaml")], "platform"),
    ("applications map",
     {".platform/applications.yaml": "api:\n  type: python:3.12\n  web: {commands: {start: a}}\n"
                                     "admin:\n  type: nodejs:22\n  source: {root: admin}\n"
                                     "  web: {commands: {start: b}}\n",
      "admin/package.json": "{}"},
     [("api", "", ".platform/applications.yaml"), ("admin", "admin", ".platform/applications.yaml")],
     "platform"),
    ("app files and applications.yaml together",
     {".platform.app.yaml": app_file("base"),
      "discreet/.platform.app.yaml": app_file("discreet"),
      ".platform/applications.yaml": "- name: php\n  type: php:8.2\n  source: {root: php}\n",
      "php/index.php": ""},
     [("base", "", ".platform.app.yaml"), ("discreet", "discreet", "discreet/.platform.app.yaml"),
      ("php", "php", ".platform/applications.yaml")], "platform"),
    ("upsun unified",
     {".upsun/config.yaml": "applications:\n  myapp:\n    type: python:3.12\n"
                            "    web: {commands: {start: run}}\n"},
     [("myapp", "", ".upsun/config.yaml")], "upsun"),
    ("upsun several files, later wins whole",
     {".upsun/a.yaml": "applications:\n  app:\n    type: python:3.11\n    disk: 1\n"
                       "    web: {commands: {start: old}}\n",
      ".upsun/b.yaml": "applications:\n  app:\n    type: python:3.12\n"
                       "    web: {commands: {start: new}}\n  other:\n    type: golang:1.22\n"
                       "    source: {root: go}\n    web: {commands: {start: ./o}}\n",
      ".upsun/sub/ignored.yaml": "applications: {x: {type: python:3.11}}\n",
      "go/main.go": ""},
     [("app", "", ".upsun/b.yaml"), ("other", "go", ".upsun/b.yaml")], "upsun"),
]


@pytest.mark.parametrize(("files", "apps", "flavour"), [c[1:] for c in LAYOUTS],
                         ids=[c[0] for c in LAYOUTS])
def test_layout(tmp_path: Path, files: dict, apps: list[tuple], flavour: str) -> None:
    project = load(tmp_path, files)
    assert [(a.name, a.source_root, a.config_file) for a in project.apps] == apps
    assert project.flavour == flavour


def test_upsun_later_file_replaces_the_whole_app(tmp_path: Path) -> None:
    project = load(tmp_path, LAYOUTS[-1][1])
    app = project.app("app")
    assert (app.type, app.disk, app.web.start) == ("python:3.12", None, "new")


def test_upsun_services_and_routes(tmp_path: Path) -> None:
    project = load(tmp_path, {".upsun/config.yaml": """\
        applications:
          myapp:
            type: python:3.12
            relationships: {db: "db:postgresql"}
            web: {commands: {start: run}}
        services:
          db: {type: "postgresql:16"}
        routes:
          "https://{default}/": {type: upstream, upstream: "myapp:http"}
        """})
    assert project.services["db"].version == "16"
    assert [(r.template, r.upstream) for r in project.routes] == [
        ("https://{default}/", "myapp:http")]


def test_services_file(tmp_path: Path) -> None:
    project = load(tmp_path, {
        ".platform.app.yaml": app_file("app"),
        ".platform/services.yaml": """\
            db:
              type: postgresql:15
              disk: 1024
              configuration:
                databases: [main, legacy]
            cache:
              type: redis:7.0
            """,
    })
    db, cache = project.services["db"], project.services["cache"]
    assert (db.name, db.type, db.kind, db.version, db.disk) == ("db", "postgresql:15",
                                                               "postgresql", "15", 1024)
    assert db.configuration["databases"] == ("main", "legacy")
    assert (cache.kind, cache.disk, dict(cache.configuration)) == ("redis", None, {})


def test_routes_file(tmp_path: Path) -> None:
    project = load(tmp_path, {
        ".platform.app.yaml": app_file("app"),
        ".platform/routes.yaml": """\
            "https://{default}":
              type: upstream
              upstream: "app:http"
              id: main
              attributes: {team: web}
            "https://www.{default}/":
              type: redirect
              to: "https://{default}/"
            """,
    })
    main, www = project.routes
    assert (main.template, main.type, main.upstream, main.id) == (
        "https://{default}/", "upstream", "app:http", "main")
    assert dict(main.attributes) == {"team": "web"}
    assert (www.template, www.type, www.to, www.primary) == (
        "https://www.{default}/", "redirect", "https://{default}/", None)


@pytest.mark.parametrize(("files", "expected"), [
    ({".platform.app.yaml": app_file("app")}, [("https://{default}/", "app:http")]),
    ({".platform.app.yaml": app_file("app"), ".platform/routes.yaml": ""}, []),
    ({"a/.platform.app.yaml": app_file("a"), "b/.platform.app.yaml": app_file("b")}, []),
    ({".upsun/config.yaml": "applications:\n  solo:\n    type: python:3.12\n"
                            "    web: {commands: {start: x}}\n"}, [("https://{default}/", "solo:http")]),
], ids=["one app, no routes file", "empty routes file", "two apps", "upsun one app"])
def test_implicit_route(tmp_path: Path, files: dict, expected: list) -> None:
    project = load(tmp_path, files)
    assert [(r.template, r.upstream) for r in project.routes] == expected


def test_include_forms(tmp_path: Path) -> None:
    project = load(tmp_path, {
        "app/.platform.app.yaml": """\
            name: app
            type: python:3.11
            hooks:
              build: !include {type: string, path: scripts/build.sh}
            variables: !include vars.yaml
            web:
              commands: {start: run}
              locations: !include "../shared/locations.yaml"
            """,
        "app/scripts/build.sh": "set -e\npip install .\n",
        "app/vars.yaml": "env:\n  LOGO: !include {type: binary, path: logo.bin}\n",
        "app/logo.bin": b"\x00\x01\xff",
        "shared/locations.yaml": "/:\n  passthru: true\n",
    })
    app = project.app("app")
    assert app.hooks.build == "set -e\npip install .\n"
    assert app.variables["env"]["LOGO"] == base64.b64encode(b"\x00\x01\xff").decode()
    assert app.web.locations["/"].passthru is True


def test_include_in_applications_is_relative_to_the_app_root(tmp_path: Path) -> None:
    project = load(tmp_path, {
        ".platform/applications.yaml": "- !include app.yaml\n",
        ".platform/app.yaml": app_file("app", extra="source: {root: api}\n"
                                       "hooks: {build: !include {type: string, path: b.sh}}\n"),
        "api/b.sh": "make\n",
    })
    assert project.app("app").hooks.build == "make\n"


def test_app_lookup(tmp_path: Path) -> None:
    project = load(tmp_path, {".platform.app.yaml": app_file("app")})
    assert project.app("app").name == "app"
    with pytest.raises(NotFound, match="no app named 'nope' in this project; apps: app"):
        project.app("nope")


def test_model_is_frozen(tmp_path: Path) -> None:
    app = load(tmp_path, {".platform.app.yaml": app_file("app", extra="variables:\n"
                                                          "  env: {A: [1]}\n")}).app("app")
    with pytest.raises(AttributeError):
        app.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        app.variables["env"]["A"] = 2  # type: ignore[index]
    with pytest.raises(TypeError):
        app.raw["name"] = "x"  # type: ignore[index]
    assert app.variables["env"]["A"] == (1,)
