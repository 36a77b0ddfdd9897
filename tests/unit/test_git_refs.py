"""S7: which ref updates a push may make, which names become environments, which git variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.environments.names import environment_name_problem
from shipway.environments.registry import PROJECT_NAME
from shipway.errors import UsageError
from shipway.git.refs import check_updates, parse_updates
from shipway.git.repos import quarantine_env

A, B, Z = "a" * 40, "b" * 40, "0" * 40


@pytest.mark.parametrize("name", ["main", "feature-1", "release-1.2", "Fix_bug", "x" * 48])
def test_names_that_become_environments(name: str) -> None:
    assert environment_name_problem(name) is None


@pytest.mark.parametrize(("name", "reason"), [
    ("", "empty"),
    ("x" * 49, "longer than 48"),
    ("main/app", "'/'"),
    ("a/b/c", "'/'"),
    ("feat$(touch /tmp/x)", "'/'"),
    ("feat$(id)", "shell metacharacters"),
    ("a;b", "shell metacharacters"),
    ("x`id`", "shell metacharacters"),
    ("caf\u00e9", "non-ASCII"),
    ("-x", "starting with a letter"),
    (".hidden", "starting with a letter"),
    ("main.restoring", "shipway's own use"),
    ("x.lock", "shipway's own use"),
])
def test_names_refused_with_the_reason(name: str, reason: str) -> None:
    problem = environment_name_problem(name)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(("text", "expected"), [
    ("", []),
    (f"{A} {B} refs/heads/main\n", [{"old": A, "new": B, "ref": "refs/heads/main"}]),
    (f"{Z} {B} refs/heads/x\n{A} {Z} refs/tags/v1\n",
     [{"old": Z, "new": B, "ref": "refs/heads/x"}, {"old": A, "new": Z, "ref": "refs/tags/v1"}]),
])
def test_parse_updates(text: str, expected: list[dict[str, str]]) -> None:
    assert parse_updates(text) == expected


@pytest.mark.parametrize("text", [
    "garbage\n", f"{A} {B}\n", f"{A} {B} refs/heads/a b\n", f"{A} {B} \n",
    f"{A[:39]}g {B} refs/heads/main\n", "\x00\x01\x02\n", f"{A}  {B} refs/heads/main\n",
])
def test_parse_updates_refuses_garbage(text: str) -> None:
    with pytest.raises(UsageError, match="malformed ref update on line 1"):
        parse_updates(text)


@pytest.mark.parametrize("updates", [
    [{"old": Z, "new": B, "ref": "refs/heads/main"}],
    [{"old": A, "new": B, "ref": "refs/heads/feature"}],
    [{"old": Z, "new": B, "ref": "refs/tags/v1"}],
    [{"old": A, "new": Z, "ref": "refs/heads/old-feature"}],
    [{"old": A, "new": Z, "ref": "refs/heads/a;b"}],  # deleting a name never made into one
])
def test_updates_allowed(updates: list[dict[str, str]]) -> None:
    check_updates(updates)


@pytest.mark.parametrize(("updates", "message"), [
    ([{"old": A, "new": Z, "ref": "refs/heads/main"}], "deleting 'main' refused"),
    ([{"old": Z, "new": B, "ref": "refs/notes/x"}], "branches .* and tags"),
    ([{"old": Z, "new": B, "ref": "refs/pull/1/head"}], "branches .* and tags"),
    ([{"old": Z, "new": B, "ref": "HEAD"}], "branches .* and tags"),
    ([{"old": Z, "new": B, "ref": "refs/heads/ok"}, {"old": Z, "new": B, "ref": "refs/heads/a;b"}],
     "branch 'a;b' refused"),
    ([{"old": Z, "new": B, "ref": "refs/heads/main/app"}], "contains '/'"),
    ([{"old": "x", "new": B, "ref": "refs/heads/main"}], "must be commit ids"),
    ([{"old": Z, "ref": "refs/heads/main"}], "expected old, new and ref"),
    (["refs/heads/main"], "expected old, new and ref"),
])
def test_updates_refused(updates: list[dict[str, str]], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_updates(updates)


def test_quarantine_env_inside_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "p.git"
    (repo / "objects" / "incoming-x").mkdir(parents=True)
    env = {"GIT_OBJECT_DIRECTORY": str(repo / "objects" / "incoming-x"),
           "GIT_QUARANTINE_PATH": str(repo / "objects" / "incoming-x"),
           "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(repo / "objects")}
    assert quarantine_env(repo, env) == env
    assert quarantine_env(repo, {}) == {}


@pytest.mark.parametrize("env", [
    {"GIT_OBJECT_DIRECTORY": "/etc"},
    {"GIT_QUARANTINE_PATH": "{repo}/objects/../../other.git/objects"},
    {"GIT_ALTERNATE_OBJECT_DIRECTORIES": "{repo}/objects:/var/lib"},
    {"GIT_OBJECT_DIRECTORY": "objects/incoming-x"},
    {"GIT_DIR": "{repo}"},
    {"GIT_OBJECT_DIRECTORY": 7},
    {"GIT_OBJECT_DIRECTORY": "{repo}/objects/link"},
])
def test_quarantine_env_elsewhere_refused(tmp_path: Path, env: dict[str, object]) -> None:
    repo = tmp_path / "p.git"
    (repo / "objects").mkdir(parents=True)
    (repo / "objects" / "link").symlink_to("/etc")
    env = {k: v.format(repo=repo) if isinstance(v, str) else v for k, v in env.items()}
    with pytest.raises(UsageError, match="malformed push"):
        quarantine_env(repo, env)


@pytest.mark.parametrize(("name", "ok"), [
    ("shop", True), ("a-1", True), ("shop\n", False), ("a;b", False), ("A", False), ("-a", False),
])
def test_project_names(name: str, ok: bool) -> None:
    assert (PROJECT_NAME.fullmatch(name) is not None) is ok
