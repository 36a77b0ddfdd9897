"""Every configuration error names file, line and key (SPEC C2), table-driven."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shipway.config import load_project
from shipway.errors import ConfigError, ConfigIssue

APP = ".platform.app.yaml"
ROUTES = ".platform/routes.yaml"
SERVICES = ".platform/services.yaml"
HEAD = "name: app\ntype: python:3.11\n"  # lines 1–2 of most cases
START = "web:\n  commands:\n    start: run\n"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def issues_of(root: Path, files: dict[str, str]) -> list[ConfigIssue]:
    write(root, files)
    with pytest.raises(ConfigError) as caught:
        load_project(root)
    return caught.value.issues


# (id, files, [(file, line, key, part of the message)]) — the exact issues expected.
CASES = [
    ("name missing", {APP: "type: python:3.11\n" + START},
     [(APP, 1, "name", "is required")]),
    ("name uppercase", {APP: "name: App\ntype: python:3.11\n" + START},
     [(APP, 1, "name", "invalid app name 'App'; allowed: lowercase")]),
    ("type missing", {APP: "name: app\n" + START}, [(APP, 1, "type", "is required")]),
    ("unknown runtime", {APP: "name: app\ntype: pythn:3.11\n" + START},
     [(APP, 2, "type", "unknown runtime type 'pythn:3.11'; allowed: python, nodejs, php")]),
    ("type without version", {APP: "name: app\ntype: python\n" + START},
     [(APP, 2, "type", "'<runtime>:<version>'")]),
    ("composable type without a stack (C8)", {APP: "name: app\ntype: composable:25.05\n" + START},
     [(APP, 1, "stack", "is required with a composable type")]),
    ("stack with a runtime type (C8)", {APP: HEAD + START + "stack: [\"nodejs@20\"]\n"},
     [(APP, 2, "type", "must be 'composable:<release>'")]),
    ("stack entry not a runtime (C8)",
     {APP: "name: app\ntype: composable:25.05\n" + START + "stack: [\"../../bin@1\"]\n"},
     [(APP, 6, "stack", "is not a runtime written name@version")]),
    ("type not a string", {APP: "name: app\ntype: 3\n" + START},
     [(APP, 2, "type", "must be a string; got 3")]),
    ("build hook a list", {APP: HEAD + START + "hooks:\n  build: [a, b]\n"},
     [(APP, 7, "hooks.build", "must be a string; got a list")]),
    ("disk a word", {APP: HEAD + START + "disk: big\n"},
     [(APP, 6, "disk", "must be an integer; got 'big'")]),
    ("disk a boolean", {APP: HEAD + START + "disk: true\n"},
     [(APP, 6, "disk", "must be an integer; got true")]),
    ("disk zero", {APP: HEAD + START + "disk: 0\n"}, [(APP, 6, "disk", "greater than or equal")]),
    ("mounts not a map", {APP: HEAD + START + "mounts: [a]\n"},
     [(APP, 6, "mounts", "must be a mapping; got a list")]),
    ("mount source unknown", {APP: HEAD + START + "mounts:\n  data:\n    source: nfs\n"},
     [(APP, 8, "mounts.data.source", "must be 'local', 'storage', 'instance', 'tmp' or")]),
    ("mount source missing", {APP: HEAD + START + "mounts:\n  /data/:\n    source_path: d\n"},
     [(APP, 7, "mounts./data/.source", "is required")]),
    ("mount bad string", {APP: HEAD + START + "mounts:\n  data: 'nfs:files'\n"},
     [(APP, 7, "mounts.data", "'shared:files/<path>'")]),
    ("mount service without service", {APP: HEAD + START + "mounts:\n  d:\n    source: service\n"},
     [(APP, 7, "mounts.d.service", "is required when source is 'service'")]),
    ("mount service unknown",
     {APP: HEAD + START + "mounts:\n  d:\n    source: service\n    service: files\n"},
     [(APP, 9, "mounts.d.service", "'files' is neither a service (none defined) nor an app")]),
    ("mount at the app root", {APP: HEAD + START + "mounts:\n  /:\n    source: local\n"},
     [(APP, 7, "mounts./", "not the app root")]),
    ("mount twice", {APP: HEAD + START + "mounts:\n  a: {source: tmp}\n  /a/: {source: tmp}\n"},
     [(APP, 8, "mounts./a/", "defined twice")]),
    ("mounts nested of other kinds",
     {APP: HEAD + START + "mounts:\n  var: {source: local}\n  var/cache: {source: tmp}\n"},
     [(APP, 8, "mounts.var/cache", "nested in mount 'var'")]),
    # S1: a nested mount's bind destination would lie in the app-written outer mount.
    ("mount nested with another source_path (host root via a symlink)",
     {APP: HEAD + START + "mounts:\n  data: {source: local}\n"
      "  data/sub/bin: {source: local, source_path: payload}\n"},
     [(APP, 8, "mounts.data/sub/bin", "source_path must be 'data/sub/bin'")]),
    ("mount nested with a source_path off the outer's",
     {APP: HEAD + START + "mounts:\n  data: {source: local, source_path: d}\n"
      "  data/x: {source: local}\n"},
     [(APP, 8, "mounts.data/x", "source_path must be 'd/x'")]),
    ("worker mount nested with another source_path",
     {APP: HEAD + START + "workers:\n  q:\n    commands: {start: run}\n    mounts:\n"
      "      data: {source: local}\n      data/b: {source: local, source_path: p}\n"},
     [(APP, 11, "workers.q.mounts.data/b", "source_path must be 'data/b'")]),
    ("tmp mount nested with another source_path",
     {APP: HEAD + START + "mounts:\n  t: {source: tmp}\n  t/u: {source: tmp, source_path: v}\n"},
     [(APP, 8, "mounts.t/u", "source_path must be 't/u'")]),
    ("socket family", {APP: HEAD + START + "  upstream:\n    socket_family: udp\n"},
     [(APP, 7, "web.upstream.socket_family", "must be 'tcp' or 'unix'; got 'udp'")]),
    ("protocol", {APP: HEAD + START + "  upstream:\n    protocol: grpc\n"},
     [(APP, 7, "web.upstream.protocol", "must be 'http' or 'fastcgi'")]),
    ("no start command", {APP: HEAD}, [(APP, 1, "web.commands.start", "is required")]),
    ("no start command under web", {APP: HEAD + "web:\n  commands:\n    pre: x\n"},
     [(APP, 4, "web.commands.start", "web.commands.start is required")]),
    ("location not a path", {APP: HEAD + START + "  locations:\n    static: {root: s}\n"},
     [(APP, 7, "web.locations.static", "starting with '/'")]),
    ("location expires", {APP: HEAD + START + "  locations:\n    /: {expires: soon}\n"},
     [(APP, 7, "web.locations./.expires", "must be a duration")]),
    ("location passthru", {APP: HEAD + START + "  locations:\n    /:\n      passthru: 3\n"},
     [(APP, 8, "web.locations./.passthru", "must be true, false, or the URL path")]),
    ("location allow", {APP: HEAD + START + "  locations:\n    /:\n      allow: 'yes'\n"},
     [(APP, 8, "web.locations./.allow", "must be true or false; got 'yes'")]),
    ("location rule", {APP: HEAD + START +
                       "  locations:\n    /:\n      rules:\n        '\\.png$': {allow: 1}\n"},
     [(APP, 9, "web.locations./.rules.\\.png$.allow", "must be true or false")]),
    ("legacy expires", {APP: HEAD + START + "  expires: 12x\n"},
     [(APP, 6, "web.expires", "must be a duration")]),
    ("legacy and new root location",
     {APP: HEAD + START + "  document_root: /public\n  locations:\n    /: {root: x}\n"},
     [(APP, 6, "web.document_root", "cannot be combined with web.locations['/']")]),
    ("legacy whitelist not a list", {APP: HEAD + START + "  whitelist: '*.png'\n"},
     [(APP, 6, "web.whitelist", "list of regular expressions")]),
    ("worker without start", {APP: HEAD + "workers:\n  queue:\n    commands: {}\n"},
     [(APP, 5, "workers.queue.commands.start", "is required")]),
    ("worker without commands", {APP: HEAD + "workers:\n  queue:\n    disk: 256\n"},
     [(APP, 4, "workers.queue.commands", "is required")]),
    ("variables not grouped", {APP: HEAD + START + "variables:\n  FOO: bar\n"},
     [(APP, 7, "variables.FOO", "grouped under a prefix")]),
    ("flavor unknown", {APP: HEAD + START + "build:\n  flavor: pip\n"},
     [(APP, 7, "build.flavor", "unknown build flavor 'pip' for python; allowed: none")]),
    ("dependencies not a map", {APP: HEAD + START + "dependencies:\n  python3: [poetry]\n"},
     [(APP, 7, "dependencies.python3", "must be a mapping")]),
    ("cron without spec", {APP: HEAD + START + "crons:\n  a:\n    commands: {start: x}\n"},
     [(APP, 7, "crons.a.spec", "is required")]),
    ("cron bad spec", {APP: HEAD + START + "crons:\n  a:\n    spec: often\n    cmd: x\n"},
     [(APP, 8, "crons.a.spec", "5-field cron schedule")]),
    ("cron legacy cmd bad", {APP: HEAD + START + "crons:\n  a:\n    spec: '* * * * *'\n    cmd: 1\n"},
     [(APP, 9, "crons.a.cmd", "must be a string; got 1")]),
    ("cron cmd and commands",
     {APP: HEAD + START + "crons:\n  a:\n    spec: '* * * * *'\n    cmd: x\n"
           "    commands: {start: y}\n"},
     [(APP, 9, "crons.a.cmd", "either cmd")]),
    ("cron negative shutdown",
     {APP: HEAD + START + "crons:\n  a:\n    spec: '@daily'\n    cmd: x\n"
           "    shutdown_timeout: -1\n"},
     [(APP, 10, "crons.a.shutdown_timeout", "greater than or equal to 0")]),
    ("relationship to nothing", {APP: HEAD + START + "relationships:\n  db: 'nosuch:mysql'\n"},
     [(APP, 7, "relationships.db", "'nosuch' is neither a service (none defined) nor an app")]),
    ("relationship null to nothing", {APP: HEAD + START + "relationships:\n  redis:\n"},
     [(APP, 7, "relationships.redis", "'redis' is neither a service")]),
    ("relationship bad string", {APP: HEAD + START + "relationships:\n  db: 'db:'\n"},
     [(APP, 7, "relationships.db", "'<service>:<endpoint>'")]),
    ("relationship missing service",
     {APP: HEAD + START + "relationships:\n  db:\n    endpoint: mysql\n"},
     [(APP, 7, "relationships.db.service", "is required")]),
    ("relationship to self", {APP: HEAD + START + "relationships:\n  me: 'app:http'\n"},
     [(APP, 7, "relationships.me", "to itself")]),
    ("relationship to app without endpoint",
     {APP: HEAD + START + "relationships:\n  api: {service: api}\n",
      "api/" + APP: "name: api\ntype: nodejs:20\n" + START},
     [(APP, 7, "relationships.api", "write 'api:http'")]),
    ("worker relationship to nothing",
     {APP: HEAD + START + "workers:\n  q:\n    commands: {start: x}\n"
           "    relationships: {cache: 'redis:redis'}\n"},
     [(APP, 9, "workers.q.relationships.cache", "'redis' is neither")]),
    ("circular app relationships",
     {APP: HEAD + START + "relationships:\n  api: 'api:http'\n",
      "api/" + APP: "name: api\ntype: nodejs:20\n" + START + "relationships:\n  app: 'app:http'\n"},
     [("api/" + APP, 7, "relationships.app", "must not be circular: app → api → app")]),
    ("source root missing", {APP: HEAD + START + "source:\n  root: nowhere\n"},
     [(APP, 7, "source.root", "'nowhere' is not a directory")]),
    ("source root outside", {APP: HEAD + START + "source:\n  root: ../x\n"},
     [(APP, 7, "source.root", "must not contain '..'")]),
    ("route to unknown app", {APP: HEAD + START, ROUTES: "'https://{default}/':\n"
                              "  type: upstream\n  upstream: 'nope:http'\n"},
     [(ROUTES, 3, "https://{default}/.upstream", "'nope:http' names no app; apps: app")]),
    ("route without type", {APP: HEAD + START, ROUTES: "'https://{default}/':\n  upstream: a\n"},
     [(ROUTES, 1, "https://{default}/.type", "is required")]),
    ("route bad type", {APP: HEAD + START, ROUTES: "'https://{default}/': {type: forward}\n"},
     [(ROUTES, 1, "https://{default}/.type", "must be 'upstream', 'redirect' or 'proxy'")]),
    ("route upstream missing", {APP: HEAD + START, ROUTES: "'https://{default}/': {type: upstream}\n"},
     [(ROUTES, 1, "https://{default}/.upstream", "is required for a route of type upstream")]),
    ("route redirect without to",
     {APP: HEAD + START, ROUTES: "'https://{default}/': {type: upstream, upstream: 'app:http'}\n"
                                 "'https://www.{default}/':\n  type: redirect\n"},
     [(ROUTES, 2, "https://www.{default}/.to", "is required for a route of type redirect")]),
    ("route with port", {APP: HEAD + START, ROUTES: "'https://{default}:8443/': {type: upstream}\n"},
     [(ROUTES, 1, "https://{default}:8443/", "ports are not allowed")]),
    ("route scheme", {APP: HEAD + START, ROUTES: "'ftp://{default}/': {type: upstream}\n"},
     [(ROUTES, 1, "ftp://{default}/", "scheme must be http or https")]),
    ("route host", {APP: HEAD + START, ROUTES: "'https://{default}.x/': {type: upstream}\n"},
     [(ROUTES, 1, "https://{default}.x/", "invalid host")]),
    ("partial redirect code",
     {APP: HEAD + START, ROUTES: "'https://{default}/':\n  type: upstream\n  upstream: 'app:http'\n"
                                 "  redirects:\n    paths:\n      /old: {to: /new, code: 303}\n"},
     [(ROUTES, 6, "https://{default}/.redirects.paths./old.code", "301")]),
    ("two primary routes",
     {APP: HEAD + START, ROUTES: "'https://{default}/': {type: upstream, upstream: 'app:http', "
                                 "primary: true}\n'https://a.{default}/':\n  type: upstream\n"
                                 "  upstream: 'app:http'\n  primary: true\n"},
     [(ROUTES, 5, "https://a.{default}/.primary", "only one route may be primary")]),
    ("routes not a mapping", {APP: HEAD + START, ROUTES: "- a\n"},
     [(ROUTES, 1, "", "must hold a mapping of routes")]),
    ("rule the router cannot run",
     {APP: HEAD + START + "  locations:\n    /:\n      root: web\n      rules:\n"
                          "        '(x(?!api))': {allow: false}\n"},
     [(APP, 10, "web.locations./.rules.(x(?!api))", "look-around")]),
    ("service name", {APP: HEAD + START, SERVICES: "My_DB:\n  type: postgresql:15\n"},
     [(SERVICES, 1, "My_DB", "invalid service name 'My_DB'")]),
    ("service type", {APP: HEAD + START, SERVICES: "db:\n  type: postgresql\n"},
     [(SERVICES, 2, "db.type", "'<service>:<version>'")]),
    ("service disk", {APP: HEAD + START, SERVICES: "db:\n  type: mariadb:10.11\n  disk: lots\n"},
     [(SERVICES, 3, "db.disk", "must be an integer")]),
    ("service not a map", {APP: HEAD + START, SERVICES: "db: postgresql:15\n"},
     [(SERVICES, 1, "db", "must be a mapping; got 'postgresql:15'")]),
]


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error(tmp_path: Path, files: dict[str, str], expected: list[tuple]) -> None:
    found = issues_of(tmp_path, files)
    assert [(i.file, i.line, i.key) for i in found] == [e[:3] for e in expected]
    for issue, (*_, fragment) in zip(found, expected, strict=True):
        assert fragment in issue.message


LAYOUT_CASES = [
    ("no app file", {"README": "x"},
     [(".", None, "", "No .platform.app.yaml file found anywhere in the repo")]),
    # C10: both is no longer an error; .upsun/ is read, and here holds no app.
    ("platform and upsun", {APP: HEAD + START, ".upsun/config.yaml": "applications: {}\n"},
     [(".", None, "", "no app is defined")]),
    # The open bracket's line, not the end of file where the parser gave up.
    ("bad yaml", {APP: "name: app\ntype: [python\n"},
     [(APP, 2, "", "invalid YAML")]),
    ("duplicate yaml key", {APP: "name: app\nname: other\n"},
     [(APP, 2, "", "duplicate key")]),
    ("tab indentation", {APP: "name: app\nweb:\n\tcommands: x\n"},
     [(APP, 3, "", "invalid YAML")]),
    ("app file not a mapping", {APP: "- name: app\n"},
     [(APP, 1, "", "must hold a mapping")]),
    ("duplicate app name", {APP: HEAD + START, "sub/" + APP: HEAD + START},
     [("sub/" + APP, 1, "name", "app name 'app' is already defined in .platform.app.yaml:1")]),
    ("applications not list or map", {".platform/applications.yaml": "app\n"},
     [(".platform/applications.yaml", 1, "", "must hold a list of apps, or a mapping")]),
    ("application item not a map", {".platform/applications.yaml": "- app\n"},
     [(".platform/applications.yaml", 1, "", "an app must be a mapping")]),
    ("applications map name differs",
     {".platform/applications.yaml": "app:\n  name: other\n  type: python:3.11\n"
                                     + textwrap.indent(START, "  ")},
     [(".platform/applications.yaml", 2, "name", "differs from the app's key 'app'")]),
    ("empty app file", {APP: "# nothing yet\n"},
     [(APP, 1, "name", "is required"), (APP, 1, "type", "is required")]),
    ("empty applications file", {".platform/applications.yaml": ""},
     [(".", None, "", "no app is defined")]),
    ("upsun with no app", {".upsun/config.yaml": "applications:\n"},
     [(".", None, "", "no app is defined")]),
    ("upsun without applications", {".upsun/config.yaml": "services: {}\n"},
     [(".upsun/config.yaml", None, "applications", "is required")]),
    ("upsun without files", {".upsun/README.md": "x"},
     [(".upsun", None, "", "no .yaml file")]),
    ("upsun applications not a map", {".upsun/config.yaml": "applications: [a]\n"},
     [(".upsun/config.yaml", 1, "applications", "must be a mapping of applications")]),
]


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in LAYOUT_CASES],
                         ids=[c[0] for c in LAYOUT_CASES])
def test_layout_error(tmp_path: Path, files: dict[str, str], expected: list[tuple]) -> None:
    test_error(tmp_path, files, expected)


INCLUDE_CASES = [
    ("missing file", {APP: HEAD + START + "hooks:\n  build: !include {type: string, path: b.sh}\n"},
     [(APP, 7, "hooks.build", "file 'b.sh' not found")]),
    ("outside the repository", {APP: HEAD + START + "hooks:\n  build: !include {type: string, "
                                "path: ../../etc/passwd}\n"},
     [(APP, 7, "hooks.build", "outside the repository")]),
    ("absolute path", {APP: HEAD + START + "variables: !include /etc/vars.yaml\n"},
     [(APP, 6, "variables", "must be relative")]),
    ("bad type", {APP: HEAD + START + "hooks:\n  build: !include {type: archive, path: b}\n"},
     [(APP, 7, "hooks.build", "type 'archive' is not allowed; allowed: yaml, string, binary")]),
    ("cycle", {APP: HEAD + START + "variables: !include a.yaml\n",
               "a.yaml": "env: !include b.yaml\n", "b.yaml": "X: !include a.yaml\n"},
     [("b.yaml", 1, "variables.env.X", "'a.yaml' includes itself: a.yaml → b.yaml → a.yaml")]),
    ("broken included yaml", {APP: HEAD + START + "variables: !include v.yaml\n",
                              "v.yaml": "env: [1\n"},
     [("v.yaml", 1, "", "invalid YAML")]),
    ("error inside an included file", {APP: HEAD + START + "hooks: !include hooks.yaml\n",
                                       "hooks.yaml": "# hooks\nbuild: [x]\n"},
     [("hooks.yaml", 2, "hooks.build", "must be a string")]),
    ("included value of the wrong type", {APP: HEAD + START + "mounts: !include m.yaml\n",
                                          "m.yaml": "- a\n"},
     [("m.yaml", 1, "mounts", "must be a mapping")]),
    ("whole app include with an error",
     {".platform/applications.yaml": "- !include pip.app.yaml\n",
      ".platform/pip.app.yaml": "name: app\ntype: python:3.11\n" + START + "disk: x\n"},
     [(".platform/pip.app.yaml", 6, "disk", "must be an integer")]),
]


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in INCLUDE_CASES],
                         ids=[c[0] for c in INCLUDE_CASES])
def test_include_error(tmp_path: Path, files: dict[str, str], expected: list[tuple]) -> None:
    test_error(tmp_path, files, expected)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = issues_of(tmp_path, {
        APP: "name: app\ntype: pythn:3.11\nhooks:\n  build: [a]\ndisk: big\n",
        "api/" + APP: "name: api\ntype: nodejs:20\nweb: {upstream: {socket_family: udp}}\n",
        SERVICES: "db:\n  type: postgresql\n",
        ROUTES: "'https://{default}/': {type: upstream, upstream: 'nope:http'}\n",
    })
    assert [(i.file, i.key) for i in found] == [
        (APP, "type"), (APP, "hooks.build"), (APP, "disk"),
        (ROUTES, "https://{default}/.upstream"), (SERVICES, "db.type"),
        ("api/" + APP, "web.upstream.socket_family"),
    ]


def test_route_to_an_app_that_failed_validation_is_not_an_extra_error(tmp_path: Path) -> None:
    found = issues_of(tmp_path, {
        APP: "name: app\ntype: python:3.11\ndisk: big\n" + START,
        ROUTES: "'https://{default}/': {type: upstream, upstream: 'app:http'}\n",
    })
    assert [i.key for i in found] == ["disk"]


def test_upsun_error_names_the_key_inside_the_app(tmp_path: Path) -> None:
    found = issues_of(tmp_path, {".upsun/config.yaml": """\
        applications:
          myapp:
            type: python:3.12
            hooks:
              build: 3
        """})
    assert [(i.file, i.line, i.key) for i in found] == [
        (".upsun/config.yaml", 5, "hooks.build"),
    ]


def test_issue_renders_file_line_key(tmp_path: Path) -> None:
    found = issues_of(tmp_path, {APP: HEAD + START + "disk: big\n"})
    assert str(found[0]) == ".platform.app.yaml:6: disk: must be an integer; got 'big'"


def test_symlink_out_of_the_repository_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: 1\npassword: 2\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / APP).symlink_to(secret)
    with pytest.raises(ConfigError) as caught:
        load_project(repo)
    assert [(i.file, i.message) for i in caught.value.issues] == [
        (APP, "is a symlink to a file outside the repository")]
