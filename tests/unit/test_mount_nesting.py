"""S1: no bind destination inside a tree the app writes (nested mounts), table-driven."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.config import load_project
from shipway.config.nesting import Where, nested_problem, outer_of
from shipway.sandbox.spec import Bind, SandboxSpec

LOCAL = "local"


@pytest.mark.parametrize(
    ("key", "inner", "outer_key", "outer", "problem"),
    [
        ("data/sub", Where(LOCAL, None, "data/sub"), "data", Where(LOCAL, None, "data"), None),
        ("data/a/b", Where(LOCAL, None, "d/a/b"), "data", Where(LOCAL, None, "d"), None),
        ("t/u", Where("tmp", None, "t/u"), "t", Where("tmp", None, "t"), None),
        ("s/x", Where("service", "files", "p/x"), "s", Where("service", "files", "p"), None),
        # the reviewer's attack: payload bound at data/sub/bin
        ("data/sub/bin", Where(LOCAL, None, "payload"), "data", Where(LOCAL, None, "data"),
         "source_path must be 'data/sub/bin'"),
        ("data/x", Where(LOCAL, None, "data/y"), "data", Where(LOCAL, None, "data"),
         "source_path must be 'data/x'"),
        ("data/x", Where(LOCAL, None, "data/x/"), "data", Where(LOCAL, None, "data"),
         "source_path must be 'data/x'"),
        ("data/x", Where("tmp", None, "data/x"), "data", Where(LOCAL, None, "data"),
         "of another source (tmp inside local)"),
        ("s/x", Where("service", "other", "p/x"), "s", Where("service", "files", "p"),
         "unless it is the same directory"),
    ],
)
def test_nested_mount_rule(key: str, inner: Where, outer_key: str, outer: Where,
                           problem: str | None) -> None:
    got = nested_problem(key, inner, outer_key, outer)
    assert got == problem if problem is None else problem in (got or "")


@pytest.mark.parametrize(
    ("key", "keys", "outer"),
    [
        ("data/sub", {"data", "data/sub"}, "data"),
        ("a/b/c", {"a", "a/b", "a/b/c"}, "a"),
        ("data2", {"data", "data2"}, None),
        ("data", {"data", "data/sub"}, None),
    ],
)
def test_outer_of_is_the_outermost_enclosing_mount(key: str, keys: set[str], outer: str | None) -> None:
    assert outer_of(key, keys) == outer


def test_a_nested_mount_of_the_same_directory_loads(tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\ntype: python:3.11\nweb:\n  commands:\n    start: run\n"
        "mounts:\n  data: {source: local, source_path: d}\n"
        "  data/sub: {source: local, source_path: d/sub}\n")
    (app,) = load_project(tmp_path).apps
    assert set(app.mounts) == {"data", "data/sub"}


def sandbox(binds: tuple[Bind, ...], *, app_writable: bool = False,
            tmp_dir: Path | None = None) -> SandboxSpec:
    return SandboxSpec(command=("true",), app_dir=Path("/srv/app"), app_writable=app_writable,
                       uid=61001, gid=61001, env={}, tmp_dir=tmp_dir, binds=binds)


@pytest.mark.parametrize(
    ("binds", "app_writable", "tmp_dir"),
    [
        ((Bind(Path("/h/d"), "/app/data", True), Bind(Path("/h/p"), "/app/data/sub/bin", True)),
         False, None),
        ((Bind(Path("/h/d"), "/app/data", True), Bind(Path("/h/r"), "/app/data/x")), False, None),
        ((Bind(Path("/h/s"), "/run/shipway/sock", True), Bind(Path("/h/x"), "/run/shipway/sock/x")),
         False, None),
        ((Bind(Path("/h/x"), "/app/x"),), True, None),
        ((Bind(Path("/h/x"), "/tmp/x"),), False, Path("/h/tmp")),
    ],
)
def test_a_bind_inside_a_writable_tree_is_refused(binds: tuple[Bind, ...], app_writable: bool,
                                                  tmp_dir: Path | None) -> None:
    with pytest.raises(ValueError, match="which the sandbox can write"):
        sandbox(binds, app_writable=app_writable, tmp_dir=tmp_dir)


@pytest.mark.parametrize(
    "binds",
    [
        (Bind(Path("/h/d"), "/app/data", True), Bind(Path("/h/e"), "/app/data2", True)),
        (Bind(Path("/h/r"), "/srv/x"), Bind(Path("/h/y"), "/srv/x/y", True)),  # inside read-only
        (Bind(Path("/h/x"), "/tmp/x"),),  # a fresh tmpfs holds nothing of the app's at setup
        (Bind(Path("/h/x"), "/app/x", True), Bind(Path("/h/s"), "/run/shipway/sock", True)),
    ],
)
def test_binds_outside_writable_trees_are_allowed(binds: tuple[Bind, ...]) -> None:
    assert sandbox(binds).binds == binds
