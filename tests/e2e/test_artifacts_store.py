"""B7 with a real read-only bind mount: a file shared by hard link between
artifacts cannot be written through any path an app (or root) is given."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.artifacts.store import ArtifactStore
from shipway.sandbox.run import run_oneshot
from shipway.sandbox.spec import SandboxSpec

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bwrap"),
]
KEY1, KEY2 = "a" * 32, "b" * 32


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArtifactStore]:
    store = ArtifactStore(tmp_path / "store" / "artifacts", tmp_path / "view")
    store.ensure_view()
    store.ensure_view()  # idempotent: a restarted control plane calls it again
    yield store
    store.release_view()
    assert str(store.view) not in Path("/proc/self/mountinfo").read_text()


def test_b7_a_shared_file_is_read_only_through_every_view(store: ArtifactStore, tmp_path: Path) -> None:
    for key in (KEY1, KEY2):
        built = tmp_path / key
        built.mkdir()
        (built / "shared.txt").write_text("original\n")
        store.freeze(built, key, {}, (), print)
    inodes = {(store.root / key / "shared.txt").stat().st_ino for key in (KEY1, KEY2)}
    assert len(inodes) == 1
    app = SandboxSpec(command=("/bin/sh", "-c", "echo changed >> /app/shared.txt; rm /app/shared.txt"),
                      app_dir=store.path(KEY1), app_writable=False, uid=61731, gid=61731,
                      env={"PATH": "/usr/bin:/bin"})
    lines: list[str] = []
    assert run_oneshot(app, on_line=lambda line, _e: lines.append(line), timeout=30) != 0
    assert any("Read-only file system" in line for line in lines), lines
    with pytest.raises(OSError) as refused:  # root too, through the view
        (store.path(KEY2) / "shared.txt").write_text("changed\n")
    assert refused.value.errno == errno.EROFS
    assert (store.path(KEY2) / "shared.txt").read_text() == "original\n"
