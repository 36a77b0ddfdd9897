"""A4 without SHIPWAY_SSH_PORT: no sshd of shipway's, yet root's `shipway ssh` works (A2)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shipway.access.sshd import ssh_settings
from tests.e2e.conftest import SHIPWAY, STDLIB, Shipway, make_repo, push

pytestmark = pytest.mark.e2e


def test_a4_root_shell_works_without_any_sshd(shipway: Shipway,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    out = shipway.create_project("solo")
    assert "ssh://" not in shipway.cli("project:create", "solo2").stdout  # no SSH remote offered
    pushed = push(make_repo(tmp_path_factory.mktemp("solo") / "repo", STDLIB), out)
    assert pushed.returncode == 0, pushed.stderr
    config = str(shipway.home / "ssh" / "sshd_config").encode()
    for entry in Path("/proc").iterdir():
        try:
            assert config not in (entry / "cmdline").read_bytes()
        except OSError:
            continue
    shell = subprocess.run([*SHIPWAY, "ssh", "-p", "solo", "-e", "main", "--", "id -u; exit 9"],
                           env=shipway.env, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
    assert shell.returncode == 9 and shell.stdout.strip().isdigit(), shell.stderr
    lines = shipway.cli("ssh:config").stdout
    s = ssh_settings(shipway.home, "127.0.0.1", {})
    assert "Match User shipway" in lines and f"AuthorizedKeysFile {s.authorized_keys}" in lines
