"""S1: which run_dir entries are supervisors' state, and which the app's."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shipway.deploy.instances import _STATE_DIR
from shipway.sandbox.processes import check_state_dir, is_state_dir


@pytest.mark.parametrize(("name", "ours"), [
    ("web", True), ("worker-queue", True), ("worker-a.b_c-1", True),
    ("sock", False), ("tmp", False), ("tmp-worker-queue", False), ("tmp-mounts", False),
    ("worker-", False), ("worker-..", False), ("web2", False), ("worker-a/b", False),
])
def test_only_web_and_worker_dirs_are_state_dirs(name: str, ours: bool) -> None:
    assert bool(_STATE_DIR.fullmatch(name)) is ours


def test_a_symlink_or_missing_dir_is_not_a_state_dir(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert is_state_dir(tmp_path / "real")
    assert not is_state_dir(tmp_path / "link")
    assert not is_state_dir(tmp_path / "missing")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_a_dir_of_another_owner_is_not_a_state_dir(tmp_path: Path) -> None:
    (tmp_path / "sock").mkdir()
    os.chown(tmp_path / "sock", 61747, 61747)
    assert not is_state_dir(tmp_path / "sock")


def test_a_state_dir_is_made_unwritable_by_others(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    os.chmod(tmp_path / "web", 0o777)
    check_state_dir(tmp_path / "web")
    assert stat.S_IMODE((tmp_path / "web").stat().st_mode) == 0o755
