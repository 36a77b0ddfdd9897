"""B7: freezing into the content-addressed store, deduplication, garbage collection."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from shipway.artifacts.store import ArtifactStore
from shipway.errors import BuildFailed

KEY1, KEY2, KEY3 = "1" * 32, "2" * 32, "3" * 32


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store" / "artifacts", tmp_path / "view")


def tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def freeze(store: ArtifactStore, built: Path, key: str, mounts: tuple[str, ...] = ()) -> list[str]:
    warnings: list[str] = []
    store.freeze(built, key, {"tree": key}, mounts, warnings.append)
    return warnings


def usage(path: Path) -> int:
    """Bytes used on disk, each inode once (as `du` counts hard links)."""
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def test_b7_freeze_copies_files_links_modes_and_mount_points(store: ArtifactStore, tmp_path: Path) -> None:
    built = tree(tmp_path / "b", {"app.py": "print(1)\n", "bin/run": "#!/bin/sh\n", "empty": "",
                                  "static/a.css": "body{}"})
    (built / "bin/run").chmod(0o755)
    (built / "link").symlink_to("app.py")
    (built / "dirlink").symlink_to("static")
    assert freeze(store, built, KEY1, ("data", "var/cache")) == []
    art = store.root / KEY1
    assert store.has(KEY1) and store.inputs(KEY1) == {"tree": KEY1}
    assert (art / "app.py").read_text() == "print(1)\n" and (art / "empty").read_bytes() == b""
    assert (art / "bin/run").stat().st_mode & 0o777 == 0o777
    assert (art / "app.py").stat().st_mode & 0o777 == 0o666
    assert os.readlink(art / "link") == "app.py" and os.readlink(art / "dirlink") == "static"
    assert (art / "data").is_dir() and (art / "var/cache").is_dir()
    assert (art / "static").stat().st_mode & 0o777 == 0o777
    assert (art / "app.py").stat().st_nlink == 2  # the artifact's name and the object's
    assert built.exists()  # the build's own copy is the caller's to drop


def test_b7_identical_files_share_one_inode_across_artifacts(store: ArtifactStore, tmp_path: Path) -> None:
    freeze(store, tree(tmp_path / "b1", {"a.txt": "same", "b.txt": "one"}), KEY1)
    freeze(store, tree(tmp_path / "b2", {"a.txt": "same", "b.txt": "two", "c.txt": "same"}), KEY2)
    a1, a2 = (store.root / KEY1 / "a.txt").stat(), (store.root / KEY2 / "a.txt").stat()
    assert a1.st_ino == a2.st_ino == (store.root / KEY2 / "c.txt").stat().st_ino
    assert (store.root / KEY1 / "b.txt").stat().st_ino != (store.root / KEY2 / "b.txt").stat().st_ino


def test_b7_same_content_different_exec_bit_are_two_objects(store: ArtifactStore, tmp_path: Path) -> None:
    built = tree(tmp_path / "b", {"x": "#!/bin/sh\n", "y": "#!/bin/sh\n"})
    (built / "x").chmod(0o755)
    freeze(store, built, KEY1)
    x, y = (store.root / KEY1 / "x").stat(), (store.root / KEY1 / "y").stat()
    assert x.st_ino != y.st_ino and x.st_mode & 0o111 and not y.st_mode & 0o111


def test_b7_a_one_file_change_adds_about_that_file(store: ArtifactStore, tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {f"pkg/m{i}.py": f"# module {i}\n" + "x = 1\n" * 2000 for i in range(200)}
    freeze(store, tree(tmp_path / "b1", files), KEY1)
    before = usage(store.root)
    changed = {**files, "pkg/m7.py": "# changed\n" + "y = 2\n" * 2000}
    freeze(store, tree(tmp_path / "b2", changed), KEY2)
    growth = usage(store.root) - before
    # The new object (12 kB) plus the new artifact's directories; not 200 files again (2.4 MB).
    assert growth < 12_000 + 3 * 4096 + 2_000, growth


def test_b7_a_concurrent_freeze_of_the_same_key_keeps_the_first(store: ArtifactStore, tmp_path: Path) -> None:
    freeze(store, tree(tmp_path / "b1", {"a": "first"}), KEY1)
    freeze(store, tree(tmp_path / "b2", {"a": "second"}), KEY1)
    assert (store.root / KEY1 / "a").read_text() == "first"
    assert not list(store.root.glob(".staging-*"))


def test_b7_mount_point_over_a_file_is_replaced_with_a_warning(store: ArtifactStore, tmp_path: Path) -> None:
    warnings = freeze(store, tree(tmp_path / "b", {"data": "a file"}), KEY1, ("data",))
    assert (store.root / KEY1 / "data").is_dir()
    assert any("shadows a file" in w for w in warnings)


def test_b7_timestamp_pyc_follows_its_shared_source(store: ArtifactStore, tmp_path: Path) -> None:
    """A .py stored by an earlier build keeps that build's mtime; the .pyc
    compiled against this build's copy must still be valid for it."""
    for key, when in ((KEY1, 1_600_000_000), (KEY2, 1_700_000_000)):
        built = tree(tmp_path / key, {"m.py": "VALUE = 42\n"})
        os.utime(built / "m.py", (when, when))
        py_compile.compile(str(built / "m.py"), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        freeze(store, built, key)
    art = store.root / KEY2
    source_mtime = int((art / "m.py").stat().st_mtime)
    assert source_mtime == 1_600_000_000  # shared with KEY1's object
    pyc = next((art / "__pycache__").iterdir()).read_bytes()
    flags, stamp, size = struct.unpack_from("<III", pyc, 4)
    assert flags == 0 and stamp == source_mtime and size == len("VALUE = 42\n")
    assert pyc[:4] == importlib.util.MAGIC_NUMBER


def test_b7_collect_removes_unreferenced_old_artifacts_and_orphaned_objects(
    store: ArtifactStore, tmp_path: Path
) -> None:
    freeze(store, tree(tmp_path / "b1", {"shared": "s", "only1": "1"}), KEY1)
    freeze(store, tree(tmp_path / "b2", {"shared": "s", "only2": "2"}), KEY2)
    freeze(store, tree(tmp_path / "b3", {"only3": "3"}), KEY3)
    now = (store.root / f"{KEY3}.json").stat().st_mtime
    os.utime(store.root / f"{KEY1}.json", (now - 100, now - 100))
    os.utime(store.root / f"{KEY2}.json", (now - 100, now - 100))
    removed = store.collect(keep={KEY2}, older_than=50, now=now)
    assert removed == [KEY1]  # KEY2 is referenced; KEY3 is too young
    assert store.keys() == [KEY2, KEY3] and not (store.root / KEY1).exists()
    assert (store.root / KEY2 / "shared").read_text() == "s"
    objects = [p for p in (store.root / "objects").rglob("*-r")]
    assert len(objects) == 3  # shared, only2, only3: only1's object went with KEY1
    assert all(p.stat().st_nlink == 2 for p in objects)


def test_b7_collect_sweeps_what_a_dead_freeze_left(store: ArtifactStore, tmp_path: Path) -> None:
    (store.root / ".staging-abc").mkdir()
    (store.root / "objects" / "tmp" / "partial").write_text("x")
    (store.root / KEY1).mkdir()  # renamed, but died before its inputs were written
    assert store.collect(keep=set(), older_than=0, now=os.stat(store.root).st_mtime + 10) == []
    assert sorted(p.name for p in store.root.iterdir()) == ["objects"]
    assert list((store.root / "objects" / "tmp").iterdir()) == []


def test_b7_content_collected_earlier_is_stored_again(store: ArtifactStore, tmp_path: Path) -> None:
    freeze(store, tree(tmp_path / "b1", {"a": "content"}), KEY1)
    shutil.rmtree(store.root / KEY1)
    (store.root / f"{KEY1}.json").unlink()
    store.collect(keep=set(), older_than=0)
    freeze(store, tree(tmp_path / "b2", {"a": "content"}), KEY2)
    assert (store.root / KEY2 / "a").read_text() == "content"


@pytest.mark.parametrize("victim_has", ["nothing", "a file", "a full directory"])
def test_s1_a_mount_point_behind_a_symlinked_parent_touches_nothing_outside(
        store: ArtifactStore, tmp_path: Path, victim_has: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    if victim_has == "a file":
        (victim / "inner").write_text("keep")
    elif victim_has == "a full directory":
        (victim / "inner").mkdir()
        (victim / "inner/keep").write_text("keep")
    built = tree(tmp_path / "built", {"index.html": "hi"})
    (built / "data").symlink_to(victim)
    before = sorted(p.name for p in victim.rglob("*"))
    with pytest.raises(BuildFailed, match="mount 'data/inner'"):
        freeze(store, built, KEY1, ("data/inner",))
    assert sorted(p.name for p in victim.rglob("*")) == before
    assert not store.has(KEY1)


def test_s2_links_into_the_apps_view_are_repointed_to_the_routers(store: ArtifactStore,
                                                                  tmp_path: Path) -> None:
    old, other, plain = tmp_path / "old", tmp_path / "other", tmp_path / "plain"
    old.symlink_to(store.view / KEY1)
    other.symlink_to("/somewhere/else")
    plain.write_text("x")
    store.repoint_to_served([old, other, plain])
    assert Path(os.readlink(old)) == store.served / KEY1
    assert os.readlink(other) == "/somewhere/else" and plain.read_text() == "x"
