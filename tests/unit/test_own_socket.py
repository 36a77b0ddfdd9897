"""S4: the gate opens only to a unix socket the app's uid bound (listeners.check_own_socket)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from shipway.deploy.listeners import check_own_socket
from shipway.errors import AppError


def _bind(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return sock


def test_the_apps_own_socket_passes(tmp_path: Path) -> None:
    with _bind(tmp_path / "app.sock"):
        check_own_socket(tmp_path / "app.sock", os.getuid())


@pytest.mark.parametrize(
    ("make", "refusal"),
    [
        (lambda d: (d / "app.sock").symlink_to(d / "victim.sock"), "app.sock is a symlink"),
        (lambda d: (d / "app.sock").write_text(""), "not a socket of uid"),
        (lambda d: None, "is gone"),
    ],
)
def test_anything_else_keeps_the_gate_shut(tmp_path: Path, make, refusal: str) -> None:  # type: ignore[no-untyped-def]
    with _bind(tmp_path / "victim.sock"):
        make(tmp_path)
        with pytest.raises(AppError, match=refusal):
            check_own_socket(tmp_path / "app.sock", os.getuid())


def test_a_socket_of_another_uid_keeps_the_gate_shut(tmp_path: Path) -> None:
    with _bind(tmp_path / "app.sock"):
        with pytest.raises(AppError, match=f"not a socket of uid {os.getuid() + 1}"):
            check_own_socket(tmp_path / "app.sock", os.getuid() + 1)
