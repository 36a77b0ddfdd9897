"""C12: -p/-e on every project or environment command, taken from the git
remote and branch when left out (the CLI's own decisions, no server)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
import pytest

from shipway.cli import main as cli


def _repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remote: bool) -> None:
    home = tmp_path / "home"
    (home / "git").mkdir(parents=True)
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "feature-x", str(repo)], check=True)
    if remote:
        subprocess.run(["git", "-C", str(repo), "remote", "add", "shipway", str(home / "git" / "shop.git")],
                       check=True)
    monkeypatch.setenv("SHIPWAY_HOME", str(home))
    monkeypatch.delenv("SHIPWAY_PROJECT", raising=False)
    monkeypatch.delenv("SHIPWAY_ENVIRONMENT", raising=False)
    monkeypatch.chdir(repo)


def test_c12_project_and_environment_from_the_git_remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    _repo(tmp_path, monkeypatch, remote=True)
    assert cli._project_from_git(None, None, None) == "shop"  # type: ignore[arg-type]
    assert cli._environment_from_git(None, None, None) == "feature-x"  # type: ignore[arg-type]
    assert cli._environment_from_git(None, None, "main") == "main"  # type: ignore[arg-type]


def test_c12_without_a_shipway_remote_the_environment_is_main(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _repo(tmp_path, monkeypatch, remote=False)
    assert cli._environment_from_git(None, None, None) == "main"  # type: ignore[arg-type]
    with pytest.raises(click.UsageError, match="-p PROJECT"):
        cli._project_from_git(None, None, None)  # type: ignore[arg-type]


PROJECT_COMMANDS = {"project:info", "environment:list", "environment:info", "environment:activate",
                    "environment:deactivate", "environment:synchronize", "environment:merge",
                    "environment:branch", "url", "release:list", "activity:list", "activity:cancel",
                    "activity:log", "activity:get", "redeploy", "rollback", "variable:create",
                    "variable:update", "variable:delete", "variable:list", "variable:get", "log",
                    "backup:create", "backup:list", "backup:get", "backup:restore", "backup:delete",
                    "backup:schedule"}
ENVIRONMENT_COMMANDS = PROJECT_COMMANDS - {"project:info", "environment:list", "backup:get",
                                           "backup:delete"}


@pytest.mark.parametrize("name", sorted(PROJECT_COMMANDS))
def test_c12_every_project_command_takes_p_and_e(name: str) -> None:
    opts = {o for p in cli.main.commands[name].params for o in getattr(p, "opts", [])}
    assert {"-p", "--project"} <= opts, name
    if name in ENVIRONMENT_COMMANDS:
        assert {"-e", "--environment"} <= opts, name


def test_c12_platform_cli_names_are_aliases() -> None:
    for alias, name in {**cli.ALIASES, **cli.LATE_ALIASES}.items():
        assert cli.main.commands[alias] is cli.main.commands[name]
    assert cli.main.commands["environment:ssh"] is cli.main.commands["ssh"]
