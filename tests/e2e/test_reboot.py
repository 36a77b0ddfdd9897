"""X1: after a host reboot, `shipway serve` brings every active environment back,
without running any deploy hook again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shipway.settings import load_settings

from .conftest import STDLIB, Shipway, make_repo, push

pytestmark = pytest.mark.e2e



def simulate_reboot(shipway: Shipway) -> None:
    """Everything a reboot takes away: processes, mounts, firewall rules."""
    shipway.kill9()
    subprocess.run(["pkill", "-KILL", "-f", str(shipway.home)], check=False)
    for mount in ("artifacts", "served", "runview", "volumes"):
        subprocess.run(["umount", "-l", str(shipway.home / mount)], check=False)
    table = load_settings(shipway.env).firewall_table
    subprocess.run(["nft", "delete", "table", "inet", table], check=False, capture_output=True)


def test_x1_reboot_restores_apps_without_deploy_hook(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("boot")
    repo = make_repo(tmp_path / "repo", STDLIB)
    assert push(repo, remote).returncode == 0
    url = shipway.url("boot")
    assert shipway.fetch(url)[0] == 200
    deploy_log = shipway.cli("log", "deploy", "-p", "boot").stdout

    simulate_reboot(shipway)
    assert shipway.fetch(url, timeout=3)[0] != 200
    shipway.start()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert f" {shipway.home / 'served'} " in mounts  # the router's nosymfollow view, again (S2)
    assert f" {shipway.home / 'runview'} " in mounts  # and the one it dials sockets through (S4)

    code, body = shipway.fetch(url)
    assert code == 200 and body.startswith("stdlib v1"), body
    beat = shipway.app_data("boot") / "worker-beater" / "mounts" / "data"
    assert (beat / "worker-beat").exists()
    assert shipway.cli("log", "deploy", "-p", "boot").stdout == deploy_log
