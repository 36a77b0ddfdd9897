"""A push's git_env reaches root-run git: only git's quarantine variables, inside the repo (S3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.errors import UsageError
from shipway.git.repos import quarantine_env


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "shop.git" / "objects" / "incoming-abc").mkdir(parents=True)
    (tmp_path / "other.git" / "objects").mkdir(parents=True)
    return tmp_path / "shop.git"


def test_the_hooks_own_variables_pass(repo: Path) -> None:
    env = {"GIT_OBJECT_DIRECTORY": str(repo / "objects" / "incoming-abc"),
           "GIT_QUARANTINE_PATH": str(repo / "objects" / "incoming-abc"),
           "GIT_ALTERNATE_OBJECT_DIRECTORIES": f"{repo}/./objects"}
    assert quarantine_env(repo, env) == env
    assert quarantine_env(repo, {}) == {}


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({"LD_PRELOAD": "/tmp/evil.so"}, "unexpected git variable 'LD_PRELOAD'"),
        ({"GIT_CONFIG_COUNT": "1"}, "unexpected git variable"),
        ({"GIT_CONFIG_KEY_0": "core.fsmonitor"}, "unexpected git variable"),
        ({"GIT_DIR": "{repo}"}, "unexpected git variable"),
        ({"GIT_OBJECT_DIRECTORY": "{other}/objects"}, "inside the project's repository"),
        ({"GIT_OBJECT_DIRECTORY": "{repo}/../other.git/objects"}, "inside the project's repository"),
        ({"GIT_OBJECT_DIRECTORY": "objects"}, "inside the project's repository"),
        ({"GIT_QUARANTINE_PATH": "/etc"}, "inside the project's repository"),
        ({"GIT_ALTERNATE_OBJECT_DIRECTORIES": "{repo}/objects:{other}/objects"}, "inside"),
        ({"GIT_ALTERNATE_OBJECT_DIRECTORIES": '"{repo}/objects"'}, "inside"),
        ({"GIT_OBJECT_DIRECTORY": ""}, "inside the project's repository"),
        ({"GIT_OBJECT_DIRECTORY": 3}, "unexpected git variable"),
    ],
)
def test_anything_else_is_refused(repo: Path, env: dict[str, object], refusal: str) -> None:
    env = {k: v.format(repo=repo, other=repo.parent / "other.git") if isinstance(v, str) else v
           for k, v in env.items()}
    with pytest.raises(UsageError, match=refusal):
        quarantine_env(repo, env)


def test_a_symlink_out_of_the_repository_is_refused(repo: Path) -> None:
    (repo / "objects" / "out").symlink_to(repo.parent / "other.git" / "objects")
    with pytest.raises(UsageError, match="inside"):
        quarantine_env(repo, {"GIT_OBJECT_DIRECTORY": str(repo / "objects" / "out")})


def test_not_an_object_is_refused(repo: Path) -> None:
    with pytest.raises(UsageError, match="must be an object"):
        quarantine_env(repo, ["LD_PRELOAD=/tmp/x"])
