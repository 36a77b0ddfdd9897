"""App keys, their legacy forms and their defaults (SPEC C3, reference §1)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shipway.config import AppConfig, Cron, Location, Mount, Relationship, load_project

SERVICES = """\
db: {type: "postgresql:15"}
cache: {type: "redis:7.0"}
files: {type: "network-storage:1.0"}
"""


def load_app(root: Path, text: str) -> AppConfig:
    (root / ".platform.app.yaml").write_text(textwrap.dedent(text))
    (root / ".platform").mkdir(exist_ok=True)
    services = root / ".platform/services.yaml"
    if not services.exists():
        services.write_text(SERVICES)
    return load_project(root).apps[0]


HEAD = "name: app\ntype: python:3.11\n"
WEB = "web:\n  commands:\n    start: run\n"

# (id, YAML after name/type, what to read from the app, expected)
CASES: list[tuple[str, str, Callable[[AppConfig], Any], Any]] = [
    ("runtime split", WEB, lambda a: (a.type, a.runtime, a.runtime_version),
     ("python:3.11", "python", "3.11")),
    ("defaults", WEB, lambda a: (a.build_flavor, a.disk, a.hooks.build, dict(a.mounts),
                                 dict(a.relationships), dict(a.workers), dict(a.crons),
                                 dict(a.variables), dict(a.dependencies)),
     ("none", None, None, {}, {}, {}, {}, {}, {})),
    ("empty sections", WEB + "hooks:\nmounts:\nrelationships:\nvariables:\ncrons:\n",
     lambda a: (a.hooks.build, dict(a.mounts), dict(a.variables)), (None, {}, {})),
    ("hooks", WEB + "hooks:\n  build: b\n  deploy: d\n  post_deploy: p\n",
     lambda a: (a.hooks.build, a.hooks.deploy, a.hooks.post_deploy), ("b", "d", "p")),
    ("flavor written", WEB + "build: {flavor: none}\n", lambda a: a.build_flavor, "none"),
    ("disk", WEB + "disk: 2048\n", lambda a: a.disk, 2048),
    # Mounts: slashes stripped, source_path defaults to the path, legacy strings.
    ("mount slashes", WEB + "mounts:\n  '/web/uploads/': {source: local}\n",
     lambda a: dict(a.mounts), {"web/uploads": Mount("local", "web/uploads")}),
    ("mount source_path", WEB + "mounts:\n  storage/cache: {source: local, source_path: cache}\n"
     "  bootstrap/cache: {source: local, source_path: cache}\n",
     lambda a: [m.source_path for m in a.mounts.values()], ["cache", "cache"]),
    ("mount legacy string", WEB + "mounts:\n  '/public/files': 'shared:files/files'\n",
     lambda a: a.mounts["public/files"], Mount("local", "files")),
    ("mount legacy string, whole volume", WEB + "mounts:\n  data: 'shared:files'\n",
     lambda a: a.mounts["data"], Mount("local", "")),
    ("mount temporary", WEB + "mounts:\n  tmp: {source: temporary}\n",
     lambda a: a.mounts["tmp"].source, "tmp"),
    ("mount flex sources", WEB + "mounts:\n  s: {source: storage}\n  i: {source: instance}\n",
     lambda a: [m.source for m in a.mounts.values()], ["storage", "instance"]),
    ("mount of a service", WEB + "mounts:\n  f: {source: service, service: files, "
     "source_path: x}\n", lambda a: a.mounts["f"], Mount("service", "x", "files")),
    # The four relationship forms.
    ("relationship string", WEB + "relationships:\n  database: 'db:mysql'\n",
     lambda a: a.relationships["database"], Relationship("db", "mysql")),
    ("relationship explicit", WEB + "relationships:\n  database: {service: db, "
     "endpoint: postgresql}\n", lambda a: a.relationships["database"],
     Relationship("db", "postgresql")),
    ("relationship null", WEB + "relationships:\n  db:\n",
     lambda a: a.relationships["db"], Relationship("db", None)),
    ("relationship flow set", WEB + "relationships: {db, cache}\n",
     lambda a: dict(a.relationships), {"db": Relationship("db"), "cache": Relationship("cache")}),
    # web
    ("web defaults", WEB, lambda a: (a.web.start, a.web.socket_family, a.web.protocol,
                                     dict(a.web.locations)),
     ("run", "tcp", "http", {"/": Location(passthru=True, allow=False)})),
    ("unix socket", WEB + "  upstream:\n    socket_family: unix\n",
     lambda a: a.web.socket_family, "unix"),
    ("locations", WEB + textwrap.indent(textwrap.dedent("""\
        locations:
          /:
            passthru: true
          /static:
            root: static/
            expires: 1h
            index: [index.html]
            headers: {X-Frame-Options: DENY}
            rules:
              '\\.map$': {allow: false}
        """), "  "),
     lambda a: dict(a.web.locations),
     {"/": Location(passthru=True),
      "/static": Location(root="static", expires="1h", index=("index.html",),
                          headers={"X-Frame-Options": "DENY"},
                          rules={"\\.map$": {"allow": False}})}),
    ("expires as a number", WEB + "  locations:\n    /: {expires: 300}\n",
     lambda a: a.web.locations["/"].expires, "300s"),
    ("passthru front controller", WEB + "  locations:\n    /: {passthru: /index.php}\n",
     lambda a: a.web.locations["/"].passthru, "/index.php"),
    ("legacy flat web", WEB + textwrap.indent(textwrap.dedent("""\
        document_root: /public
        passthru: /index.php
        index_files: [index.php]
        expires: 1d
        whitelist: ['\\.css$']
        blacklist: ['\\.sql$']
        """), "  "),
     lambda a: a.web.locations["/"],
     Location(root="public", passthru="/index.php", expires="1d", allow=False,
              index=("index.php",),
              rules={"\\.css$": {"allow": True}, "\\.sql$": {"allow": False}})),
    ("legacy web beside other locations", WEB + "  document_root: /web\n"
     "  locations:\n    /api: {passthru: true}\n",
     lambda a: list(a.web.locations), ["/", "/api"]),
    # workers inherit mounts, relationships, variables and disk unless they override
    ("worker inherits", WEB + "disk: 512\nmounts:\n  m: {source: local}\n"
     "relationships: {db: 'db:pg'}\nvariables: {env: {A: '1'}}\n"
     "workers:\n  queue:\n    commands: {start: q}\n",
     lambda a: a.workers["queue"],
     ("q", {"m": Mount("local", "m")}, {"db": Relationship("db", "pg")}, {"env": {"A": "1"}},
      512)),
    ("worker overrides", WEB + "disk: 512\nmounts:\n  m: {source: local}\n"
     "relationships: {db: 'db:pg'}\nworkers:\n  queue:\n    commands: {start: q}\n"
     "    disk: 256\n    mounts: {'/w/': 'shared:files/w'}\n    relationships: {}\n"
     "    variables: {env: {B: '2'}}\n",
     lambda a: a.workers["queue"],
     ("q", {"w": Mount("local", "w")}, {}, {"env": {"B": "2"}}, 256)),
    ("worker-only app", "workers:\n  queue:\n    commands: {start: q}\n",
     lambda a: (a.web.start, list(a.workers)), (None, ["queue"])),
    # crons
    ("cron", WEB + "crons:\n  backup:\n    spec: '0 3 * * *'\n    commands: {start: b}\n"
     "    shutdown_timeout: 30\n", lambda a: a.crons["backup"], Cron("0 3 * * *", "b", 30)),
    ("cron legacy cmd", WEB + "crons:\n  c:\n    spec: 'H * * * *'\n    cmd: x\n",
     lambda a: a.crons["c"], Cron("H * * * *", "x")),
    ("cron macro", WEB + "crons:\n  c:\n    spec: '@daily'\n    commands: {start: x}\n",
     lambda a: a.crons["c"].spec, "@daily"),
    # variables and dependencies
    ("variables", WEB + "variables:\n  env:\n    POETRY_VIRTUALENVS_IN_PROJECT: true\n"
     "    LIST: [a, b]\n  d8config:\n    'system.site:name': Site\n",
     lambda a: (a.variables["env"]["POETRY_VIRTUALENVS_IN_PROJECT"], a.variables["env"]["LIST"],
                a.variables["d8config"]["system.site:name"]), (True, ("a", "b"), "Site")),
    ("dependencies", WEB + "dependencies:\n  python3: {poetry: '*', pipenv: '2023.1'}\n"
     "  nodejs: {yarn: 1}\n",
     lambda a: {k: dict(v) for k, v in a.dependencies.items()},
     {"python3": {"poetry": "*", "pipenv": "2023.1"}, "nodejs": {"yarn": "1"}}),
    ("php dependencies require form", WEB + "dependencies:\n  php:\n    require:\n"
     "      composer/composer: '^2'\n",
     lambda a: dict(a.dependencies["php"]), {"composer/composer": "^2"}),
]


@pytest.mark.parametrize(("text", "read", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_app_key(tmp_path: Path, text: str, read: Callable[[AppConfig], Any],
                 expected: Any) -> None:
    got = read(load_app(tmp_path, HEAD + text))
    if isinstance(expected, tuple) and got.__class__.__name__ == "Worker":
        got = (got.start, dict(got.mounts), dict(got.relationships),
               {k: dict(v) for k, v in got.variables.items()}, got.disk)
    assert got == expected


@pytest.mark.parametrize(("type_", "flavor", "expected"), [
    ("nodejs:20", None, "default"),
    ("nodejs:20", "none", "none"),
    ("php:8.2", None, "composer"),
    ("php:8.2", "default", "composer"),
    ("php:8.2", "symfony", "composer"),
    ("python:3.12", None, "none"),
    ("python:3.12", "default", "none"),
    ("golang:1.22", None, "none"),
])
def test_build_flavor(tmp_path: Path, type_: str, flavor: str | None, expected: str) -> None:
    build = f"build: {{flavor: {flavor}}}\n" if flavor else ""
    app = load_app(tmp_path, f"name: app\ntype: {type_}\n{WEB}{build}")
    assert app.build_flavor == expected


def test_php_defaults_and_no_start_needed(tmp_path: Path) -> None:
    app = load_app(tmp_path, "name: app\ntype: php:8.2\n")
    assert (app.web.start, app.web.socket_family, app.web.protocol) == (None, "unix", "fastcgi")


@pytest.mark.parametrize("runtime", ["python", "nodejs", "php", "ruby", "golang", "java",
                                     "dotnet", "elixir", "rust", "lisp"])
def test_every_runtime_is_accepted(tmp_path: Path, runtime: str) -> None:
    assert load_app(tmp_path, f"name: app\ntype: {runtime}:1.0\n{WEB}").runtime == runtime


def test_relationships_to_services_and_apps(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api/.platform.app.yaml").write_text(f"name: api\ntype: nodejs:20\n{WEB}")
    app = load_app(tmp_path, HEAD + WEB + "relationships:\n  db:\n  backend: 'api:http'\n")
    assert dict(app.relationships) == {"db": Relationship("db"),
                                       "backend": Relationship("api", "http")}


def test_raw_is_normalized_and_keeps_unused_keys(tmp_path: Path) -> None:
    app = load_app(tmp_path, HEAD + WEB + "size: M\nmounts:\n  /var/: 'shared:files/var'\n"
                   "crons:\n  c: {spec: '@daily', cmd: x}\n")
    raw = app.platform_application(build_time=False)
    assert raw["size"] == "M"
    assert raw["mounts"] == {"var": {"source": "local", "source_path": "var", "service": None}}
    assert raw["crons"]["c"] == {"spec": "@daily", "commands": {"start": "x"},
                                 "shutdown_timeout": None}
    assert raw["web"]["upstream"] == {"socket_family": "tcp", "protocol": "http"}
    assert raw["build"] == {"flavor": "none"}
