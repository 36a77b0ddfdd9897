"""A4: an app's `access.ssh` decides the least role `shipway ssh` needs (default contributor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.access.dispatch import ssh_role
from shipway.config import load_project
from shipway.errors import ConfigError

HEAD = "name: app\ntype: python:3.11\nweb:\n  commands:\n    start: run\n"


def _app(root: Path, extra: str) -> object:
    (root / ".platform.app.yaml").write_text(HEAD + extra)
    return load_project(root).apps[0]


@pytest.mark.parametrize(("extra", "role"), [("", "contributor"), ("access:\n  ssh: admin\n", "admin"),
                                             ("access:\n  ssh: viewer\n", "viewer"),
                                             ("access: {}\n", "contributor")])
def test_a4_access_ssh_is_read(tmp_path: Path, extra: str, role: str) -> None:
    assert ssh_role(_app(tmp_path, extra)) == role


def test_a4_an_unknown_ssh_role_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _app(tmp_path, "access:\n  ssh: root\n")
    assert "access" in str(info.value) or any("access" in str(i) for i in info.value.issues)
