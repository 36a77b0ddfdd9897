"""C6a: the router's view of a served mount, with real bind mounts (root only)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from shipway import bindview
from shipway.config.model import Mount
from shipway.deploy import mountviews

pytestmark = pytest.mark.e2e


@pytest.fixture
def base(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("bind mounts need root")
    data = tmp_path / "data"
    (data / "uploads").mkdir(parents=True)
    (data / "uploads" / "a.jpg").write_text("picture")
    (data / "uploads" / "passwd").symlink_to("/etc/passwd")
    os.chmod(data / "uploads", 0o700)
    return data


def test_c6a_a_view_is_read_only_and_follows_no_symlink(base: Path, tmp_path: Path) -> None:
    views = tmp_path / "served-mounts" / "app"
    mount = Mount("local", "uploads")
    try:
        mountviews.ensure(views, {"uploads": (base, mount)}, router_gid=os.getgid())
        view = views / mountviews.view_name(mount)
        assert (view / "a.jpg").read_text() == "picture"
        assert os.stat(base / "uploads").st_mode & 0o050 == 0o050  # the router's group may read
        assert oct(os.stat(views).st_mode & 0o777) == "0o710"
        with pytest.raises(OSError) as denied:
            (view / "new").write_text("x")
        assert denied.value.errno == errno.EROFS
        with pytest.raises(OSError) as loop:
            (view / "passwd").read_text()
        assert loop.value.errno == errno.ELOOP
        mountviews.ensure(views, {"uploads": (base, mount)}, router_gid=os.getgid())  # idempotent
    finally:
        mountviews.release(views)
    assert not bindview.is_mount(views / mountviews.view_name(mount))


def test_c6a_a_mount_directory_swapped_for_a_symlink_gets_no_view(base: Path, tmp_path: Path) -> None:
    (base / "cache").symlink_to("/etc")
    views = tmp_path / "served-mounts" / "app"
    mount = Mount("local", "cache")
    try:
        mountviews.ensure(views, {"cache": (base, mount)}, router_gid=os.getgid())
        assert not bindview.is_mount(views / mountviews.view_name(mount))
        assert not (views / mountviews.view_name(mount)).exists()
    finally:
        mountviews.release(views)
