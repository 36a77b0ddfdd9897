"""S1: every path a config names is relative, normalised and inside the app, table-driven."""

from __future__ import annotations

import pytest

from shipway.config import load_project
from shipway.config.paths import app_path, dir_path, file_name_path, instance_name

from .test_config_errors import APP, HEAD, START, issues_of, write

# (written, normalised) — accepted, and how the model holds them.
ACCEPTED = [
    ("public", "public"),
    ("/public", "public"),            # the CLI's legacy document_root default
    ("public/", "public"),
    ("./public", "public"),
    ("web/uploads", "web/uploads"),
    ("/web/uploads/", "web/uploads"),  # a mount key as Platform.sh docs write it
    ("web//uploads", "web/uploads"),
    ("a/./b", "a/b"),
    ("", ""),                          # source_path "": the whole volume
    ("/", ""),                         # source.root "/": the repository root (Flex)
    (".", ""),
    ("..a/b..", "..a/b.."),            # dots inside a name are a name
    ("é/ü", "é/ü"),
    ("a" * 255, "a" * 255),
]

# (written, part of the message)
REFUSED = [
    ("..", "must not contain '..'"),
    ("../../../../../../..", "must not contain '..'"),
    ("a/../../b", "must not contain '..'"),
    ("a/..", "must not contain '..'"),
    ("/../etc", "must not contain '..'"),
    ("public/../web", "must not contain '..'"),
    ("a\x00b", "control character"),
    ("a\nb", "control character"),
    ("a\rb", "control character"),
    ("a\x1bb", "control character"),
    ("a\x7fb", "control character"),
    ("a" * 256, "longer than 255 bytes"),
    ("é" * 128, "longer than 255 bytes"),
    ("a/" * 2100, "longer than 4096 bytes"),
]


@pytest.mark.parametrize(("written", "expected"), ACCEPTED)
def test_app_path_accepts_and_normalises(written: str, expected: str) -> None:
    assert app_path(written) == expected


@pytest.mark.parametrize(("written", "fragment"), REFUSED)
def test_app_path_refuses(written: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        app_path(written)


@pytest.mark.parametrize("written", ["", "/", ".", "./"])
def test_a_mount_point_is_not_the_app_root(written: str) -> None:
    with pytest.raises(ValueError, match="not the app root"):
        dir_path(written)


@pytest.mark.parametrize("written", ["", "/", "."])
def test_an_index_entry_names_a_file(written: str) -> None:
    with pytest.raises(ValueError, match="names no file"):
        file_name_path(written)


@pytest.mark.parametrize(("written", "ok"), [
    ("queue", True), ("Queue_2", True), ("a.b-c", True), ("a" * 63, True),
    ("..", False), (".hidden", False), ("a/b", False), ("../../x", False), ("", False),
    ("a b", False), ("a;rm -rf /", False), ("$(id)", False), ("a" * 64, False), ("é", False),
])
def test_worker_names(written: str, ok: bool) -> None:
    if ok:
        assert instance_name(written) == written
    else:
        with pytest.raises(ValueError, match="invalid worker name"):
            instance_name(written)


MOUNT = "mounts:\n  {key}:\n    source: local\n    source_path: {source_path}\n"
WORKER = "workers:\n  q:\n    commands: {{start: w}}\n    " + \
    "mounts:\n      '{key}': {{source: local, source_path: d}}\n"

# (id, app file after HEAD + START (from line 6), line, key, part of the message)
CASES = [
    ("location root up", "  locations:\n    /up:\n      root: ../../../../../../..\n",
     8, "web.locations./up.root", "must not contain '..'"),
    ("location root up inside", "  locations:\n    /:\n      root: a/../../b\n",
     8, "web.locations./.root", "must not contain '..'"),
    ("location root NUL", '  locations:\n    /:\n      root: "pub\\0lic"\n',
     8, "web.locations./.root", "NUL character"),
    ("legacy document_root up", "  document_root: ../..\n",
     6, "web.document_root", "must not contain '..'"),
    ("index up", "  locations:\n    /:\n      root: public\n      index: ['../../etc/passwd']\n",
     9, "web.locations./.index[0]", "must not contain '..'"),
    ("location key newline", '  locations:\n    "/a\\nremote: ok":\n      root: public\n',
     7, "web.locations./a\\nremote: ok", "a key must not contain control"),
    ("passthru NUL", '  locations:\n    /:\n      passthru: "/index.php\\0"\n',
     8, "web.locations./.passthru", "NUL character"),
    ("mount key up", MOUNT.format(key="../../../../tmp/victim", source_path="d"),
     7, "mounts.../../../../tmp/victim", "must not contain '..'"),
    ("mount key dot-dot", MOUNT.format(key="'..'", source_path="d"),
     7, "mounts...", "must not contain '..'"),
    ("mount key control", MOUNT.format(key='"a\\x01"', source_path="d"),
     7, "mounts.a\\x01", "control character"),
    ("mount source_path up", MOUNT.format(key="data", source_path="../../../../tmp/victim"),
     9, "mounts.data.source_path", "must not contain '..'"),
    ("mount source_path absolute up", MOUNT.format(key="data", source_path="/../../x"),
     9, "mounts.data.source_path", "must not contain '..'"),
    ("legacy mount string up", "mounts:\n  data: 'shared:files/../../../tmp/victim'\n",
     7, "mounts.data.source_path", "must not contain '..'"),
    ("worker mount key up", WORKER.format(key="../x"),
     10, "workers.q.mounts.../x", "must not contain '..'"),
    ("worker name up", "workers:\n  '../../x':\n    commands: {start: w}\n",
     7, "workers.../../x", "invalid worker name"),
    ("source root up", "source:\n  root: ../../..\n", 7, "source.root", "must not contain '..'"),
]


@pytest.mark.parametrize(("text", "line", "key", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_a_bad_path_is_refused_with_file_line_and_key(tmp_path, text, line, key,
                                                       fragment) -> None:
    found = issues_of(tmp_path, {APP: HEAD + START + text})
    assert [(i.file, i.line, i.key) for i in found] == [(APP, line, key)]
    assert fragment in found[0].message


def test_real_leading_slash_forms_are_normalised(tmp_path) -> None:
    (tmp_path / "public").mkdir()
    write(tmp_path, {APP: HEAD + START + "  document_root: /public\n"
                     "mounts:\n  /web/uploads/: {source: local, source_path: /uploads/}\n"
                     "  'var': 'shared:files/var'\n"})
    app = load_project(tmp_path).apps[0]
    assert app.web.locations["/"].root == "public"
    assert {k: m.source_path for k, m in app.mounts.items()} == {"web/uploads": "uploads",
                                                                "var": "var"}


def test_a_leading_slash_root_is_read_inside_the_app_and_says_so(tmp_path) -> None:
    write(tmp_path, {APP: HEAD + START + "  locations:\n    /:\n      root: /etc\n"})
    config = load_project(tmp_path)
    assert config.apps[0].web.locations["/"].root == "etc"
    [warning] = config.warnings
    assert (warning.line, warning.key) == (8, "web.locations./.root")
    assert "never a host path" in warning.message


def test_source_root_symlinked_out_of_the_repository_is_refused(tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "code").symlink_to(outside)
    found = issues_of(repo, {APP: HEAD + START + "source:\n  root: code\n"})
    assert [(i.line, i.key) for i in found] == [(7, "source.root")]
    assert "symlink" in found[0].message


LOC = "  locations:\n    /:\n      passthru: true\n"  # lines 6–8 after HEAD + START
ROUTE = "'https://{{default}}/':\n  type: redirect\n  to: '{to}'\n"

# Values the router is handed as is: Caddy expands `{...}` in them, and
# `{file./path}` / `{env.NAME}` would serve the router's own files and environment.
ROUTER_CASES = [
    ("header value {file.*}", {APP: HEAD + START + LOC + "      headers:\n        X-A: "
                                "'{file./etc/shadow}'\n"},
     (APP, 10, "web.locations./.headers.X-A"), "must not contain '{' or '}'"),
    ("header name {env.*}", {APP: HEAD + START + LOC + "      headers:\n        '{env.X}': a\n"},
     (APP, 10, "web.locations./.headers.{env.X}"), "must not contain '{' or '}'"),
    ("header value newline", {APP: HEAD + START + LOC + "      headers:\n        X-A: \"a\\r\\n"
                              "Set-Cookie: x\"\n"},
     (APP, 10, "web.locations./.headers.X-A"), "control characters"),
    ("rule header", {APP: HEAD + START + LOC + "      rules:\n        '\\.css$':\n"
                     "          headers: {X-A: '{env.HOME}'}\n"},
     (APP, 11, "web.locations./.rules.\\.css$.headers.X-A"), "must not contain '{'"),
    ("passthru placeholder", {APP: HEAD + START + "  locations:\n    /:\n"
                              "      passthru: '/{file./etc/passwd}'\n"},
     (APP, 8, "web.locations./.passthru"), "must not contain '{'"),
    ("root placeholder", {APP: HEAD + START + "  locations:\n    /:\n      root: '{env.HOME}'\n"},
     (APP, 8, "web.locations./.root"), "must not contain '{'"),
    ("index placeholder", {APP: HEAD + START + LOC + "      index: ['{file./etc/passwd}']\n"},
     (APP, 9, "web.locations./.index[0]"), "must not contain '{'"),
    ("location key placeholder", {APP: HEAD + START + "  locations:\n    '/{env.X}':\n"
                                  "      passthru: true\n"},
     (APP, 7, "web.locations./{env.X}"), "a plain URL path"),
    ("route to placeholder", {APP: HEAD + START, ".platform/routes.yaml":
                              ROUTE.format(to="https://{file./etc/passwd}/")},
     (".platform/routes.yaml", 3, "https://{default}/.to"), "must not contain '{'"),
    ("redirect path to placeholder", {APP: HEAD + START, ".platform/routes.yaml":
                                      "'https://{default}/':\n  type: upstream\n"
                                      "  upstream: 'app:http'\n  redirects:\n    paths:\n"
                                      "      /old: {to: '/{env.HOME}'}\n"},
     (".platform/routes.yaml", 6, "https://{default}/.redirects.paths./old.to"),
     "must not contain '{'"),
    ("route path placeholder", {APP: HEAD + START, ".platform/routes.yaml":
                                "'https://{default}/{env.X}':\n  type: upstream\n"
                                "  upstream: 'app:http'\n"},
     (".platform/routes.yaml", 1, "https://{default}/{env.X}"), "path must be plain"),
]


@pytest.mark.parametrize(("files", "where", "fragment"), [c[1:] for c in ROUTER_CASES],
                         ids=[c[0] for c in ROUTER_CASES])
def test_no_router_placeholder_reaches_caddy(tmp_path, files, where, fragment) -> None:
    [issue] = issues_of(tmp_path, files)
    assert (issue.file, issue.line, issue.key) == where
    assert fragment in issue.message


def test_route_placeholders_of_shipway_are_still_accepted(tmp_path) -> None:
    write(tmp_path, {APP: HEAD + START, ".platform/routes.yaml":
                     "'https://www.{default}/':\n  type: upstream\n  upstream: 'app:http'\n"
                     + ROUTE.format(to="https://www.{default}/")})
    assert [r.to for r in load_project(tmp_path).routes] == [None, "https://www.{default}/"]
