"""Keys shipway does not use are warnings naming file, line and key, never dropped
silently and never errors (SPEC C2, reference §0 and §10.11)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shipway.config import load_project
from shipway.errors import ConfigIssue

APP = ".platform.app.yaml"
ROUTES = ".platform/routes.yaml"
SERVICES = ".platform/services.yaml"
HEAD = "name: app\ntype: python:3.11\nweb:\n  commands:\n    start: run\n"  # lines 1–5
PENDING = "accepted by Platform.sh but not implemented by shipway yet; ignored"
UNKNOWN_TOP = "unknown key; ignored (Platform.sh ignores unknown top-level keys)"


def warnings_of(root: Path, files: dict[str, str]) -> list[ConfigIssue]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return list(load_project(root).warnings)


def app(extra: str) -> dict[str, str]:
    return {APP: HEAD + extra}


ROUTE = "'https://{default}/':\n  type: upstream\n  upstream: 'app:http'\n"

# (id, files, [(file, line, key, part of the message)]) — the exact warnings expected.
CASES = [
    *[(key, app(f"{key}: x\n"), [(APP, 6, key, PENDING)])
      for key in ("size", "additional_hosts", "firewall",
                  "operations", "container_profile", "preflight")],
    ("access.ssh is honoured (A4)", app("access:\n  ssh: admin\n"), []),
    ("source.operations", app("source:\n  operations: {update: {command: x}}\n"),
     [(APP, 7, "source.operations", PENDING)]),
    *[(f"web.{key}", {APP: HEAD.replace("start: run\n", f"start: run\n    {key}: x\n")},
       [(APP, 6, f"web.commands.{key}", PENDING)]) for key in ("stop",)],
    ("web.move_to_root", app("  move_to_root: true\n"), [(APP, 6, "web.move_to_root", PENDING)]),
    # scripts are PHP-FPM's (C6) now: no warning.
    ("location scripts", app("  locations:\n    /:\n      scripts: false\n"), []),
    ("runtime extensions", app("runtime:\n  extensions: [redis]\n  xdebug: {idekey: x}\n"),
     [(APP, 8, "runtime.xdebug", PENDING)]),
    ("location request_buffering", app("  locations:\n    /:\n      request_buffering: "
                                       "{enabled: false}\n"),
     [(APP, 8, "web.locations./.request_buffering", PENDING)]),
    ("location rule scripts", app("  locations:\n    /:\n      rules:\n        a: {scripts: true, "
                                  "allow: false}\n"), []),
    ("cron timeout and stop", app("crons:\n  c:\n    spec: '@daily'\n    timeout: 60\n"
                                  "    commands: {start: a, stop: b}\n"),
     [(APP, 9, "crons.c.timeout", PENDING), (APP, 10, "crons.c.commands.stop", PENDING)]),
    ("worker size and access", app("workers:\n  q:\n    size: S\n    access: {ssh: admin}\n"
                                   "    commands: {start: q}\n"),
     [(APP, 8, "workers.q.size", PENDING), (APP, 9, "workers.q.access", PENDING)]),
    ("drupal flavor", {APP: HEAD.replace("python:3.11", "php:7.4") + "build: {flavor: drupal}\n"},
     [(APP, 6, "build.flavor", PENDING)]),
    ("php dependencies repositories", app("dependencies:\n  php:\n    require: {a/b: '1'}\n"
                                          "    repositories: [{type: vcs}]\n"),
     [(APP, 9, "dependencies.php.repositories", PENDING)]),
    ("unknown top-level key", app("colour: blue\n"), [(APP, 6, "colour", UNKNOWN_TOP)]),
    ("typo with a suggestion", app("relationsihps: {}\n"),
     [(APP, 6, "relationsihps", "did you mean 'relationships'?")]),
    ("unknown nested key", app("hooks:\n  biuld: x\n"),
     [(APP, 7, "hooks.biuld", "unknown key; ignored; did you mean 'build'?")]),
    ("unknown worker key", app("workers:\n  q:\n    commands: {start: q}\n    colour: x\n"),
     [(APP, 9, "workers.q.colour", "unknown key; ignored")]),
    ("unknown dependency manager", app("dependencies:\n  perl: {Moose: '*'}\n"),
     [(APP, 7, "dependencies.perl", "unknown dependency manager; ignored; allowed: php")]),
    ("numeric version", app("dependencies:\n  python3: {poetry: 1.10}\n"),
     [(APP, 7, "dependencies.python3.poetry", "quote it ('1.1')")]),
    ("unknown yaml tag", app("variables:\n  env:\n    A: !secret x\n"),
     [(APP, 8, "variables.env.A", "unknown YAML tag !secret")]),
    ("unknown yaml tag on a mapping", app("variables: !vars\n  env: {A: x}\n"),
     [(APP, 6, "variables", "unknown YAML tag !vars")]),
    *[(f"route {key}", {APP: HEAD, ROUTES: ROUTE + f"  {key}: {{enabled: false}}\n"},
       [(ROUTES, 4, f"https://{{default}}/.{key}", PENDING)])
      for key in ("cache", "ssi")],
    ("route tls is applied, not warned about (T2)",
     {APP: HEAD, ROUTES: ROUTE + "  tls:\n    min_version: TLSv1.3\n"
                               "    strict_transport_security: {enabled: true, preload: true}\n"
                               "    client_authentication: require\n"}, []),
    ("unknown route tls key (T2)", {APP: HEAD, ROUTES: ROUTE + "  tls: {colour: x}\n"},
     [(ROUTES, 4, "https://{default}/.tls.colour", "unknown key")]),
    ("route sticky", {APP: HEAD, ROUTES: ROUTE + "  sticky: true\n"},
     [(ROUTES, 4, "https://{default}/.sticky", PENDING)]),
    ("proxy route", {APP: HEAD, ROUTES: ROUTE + "'https://p.{default}/': {type: proxy, "
                                                "to: 'https://example.org/'}\n"},
     [(ROUTES, 4, "https://p.{default}/.type", "proxy routes are accepted by Platform.sh")]),
    ("unknown route key", {APP: HEAD, ROUTES: ROUTE + "  colour: x\n"},
     [(ROUTES, 4, "https://{default}/.colour", UNKNOWN_TOP)]),
    ("service size", {APP: HEAD, SERVICES: "db:\n  type: mariadb:10.11\n  size: S\n"},
     [(SERVICES, 3, "db.size", PENDING)]),
    ("service archive", {APP: HEAD, SERVICES: "s:\n  type: solr:9.4\n  configuration:\n"
                                              "    conf: !archive solr/conf\n"},
     [(SERVICES, 4, "s.configuration.conf", "!archive is accepted by Platform.sh")]),
    ("unknown upsun section", {".upsun/config.yaml": "applications:\n  app:\n    type: "
                                                     "python:3.11\n    web: {commands: "
                                                     "{start: x}}\nvariables: {}\n"},
     [(".upsun/config.yaml", 5, "variables", "unknown key; ignored; allowed: applications")]),
]


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_warning(tmp_path: Path, files: dict[str, str], expected: list[tuple]) -> None:
    found = warnings_of(tmp_path, files)
    assert [(w.file, w.line, w.key) for w in found] == [e[:3] for e in expected]
    for warning, (*_, fragment) in zip(found, expected, strict=True):
        assert fragment in warning.message


def test_a_clean_project_has_no_warnings(tmp_path: Path) -> None:
    assert warnings_of(tmp_path, {APP: HEAD}) == []


def test_unused_keys_stay_in_raw(tmp_path: Path) -> None:
    warnings_of(tmp_path, app("size: L\ncolour: blue\n"))
    raw = load_project(tmp_path).app("app").raw
    assert (raw["size"], raw["colour"]) == ("L", "blue")
