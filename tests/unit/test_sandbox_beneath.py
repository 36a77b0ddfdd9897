"""S1: root acts beneath a base, never through a symlink the app planted."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from shipway.sandbox import beneath, openat2
from shipway.sandbox.beneath import PathEscape
from shipway.sandbox.bindexec import BIND_BENEATH, pinned
from shipway.sandbox.spec import Bind


@pytest.fixture(params=["openat2", "walk"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    # Both ways of resolving: the kernel's openat2, and the O_NOFOLLOW walk
    # used where openat2 is missing.
    monkeypatch.setattr(openat2, "_openat2_works", request.param == "openat2")
    return str(request.param)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    base, victim = tmp_path / "base", tmp_path / "victim"
    (base / "data").mkdir(parents=True)
    victim.mkdir(mode=0o755)
    return base, victim


@pytest.mark.parametrize("rel", ["", "/abs", "a/../b", "..", "a//b", "./a", "a/."])
def test_parts_refuses_anything_but_plain_components(rel: str) -> None:
    with pytest.raises(ValueError):
        beneath.parts(rel)


def test_make_dirs_creates_and_chowns_the_last(tree: tuple[Path, Path], resolver: str) -> None:
    base, _ = tree
    beneath.make_dirs(base, "data/inner/deep", owner=(4321, 4321))
    assert (base / "data/inner/deep").stat().st_uid == 4321
    assert (base / "data/inner").stat().st_uid == os.getuid()


@pytest.mark.parametrize("planted", ["data/inner", "data"])
@pytest.mark.parametrize("target", ["absolute", "relative"])
def test_make_dirs_refuses_a_planted_symlink(tree: tuple[Path, Path], resolver: str,
                                             planted: str, target: str) -> None:
    base, victim = tree
    link = base / planted
    if link.is_dir():
        link.rmdir()
    link.symlink_to(victim if target == "absolute" else os.path.relpath(victim, link.parent))
    before = victim.stat()
    with pytest.raises(PathEscape, match="symlink"):
        beneath.make_dirs(base, "data/inner", owner=(4321, 4321))
    after = victim.stat()
    assert (after.st_uid, after.st_mode) == (before.st_uid, before.st_mode)
    assert list(victim.iterdir()) == []


def test_opened_fd_pins_the_directory_not_the_name(tree: tuple[Path, Path], resolver: str) -> None:
    base, victim = tree
    (base / "data/inner").mkdir()
    fd = beneath.opened_fd(base, "data/inner")
    try:
        (base / "data/inner").rename(base / "data/moved")
        (base / "data/inner").symlink_to(victim)
        assert os.fstat(fd).st_ino == (base / "data/moved").stat().st_ino
    finally:
        os.close(fd)
    with pytest.raises(PathEscape):
        beneath.opened_fd(base, "data/inner")


def test_remove_tree_leaves_symlink_targets_alone(tree: tuple[Path, Path], resolver: str) -> None:
    base, victim = tree
    (victim / "keep").write_text("keep")
    (base / "data/sub").mkdir()
    (base / "data/sub/link").symlink_to(victim)
    (base / "data/dirlink").symlink_to(victim)
    beneath.remove_tree(base, "data")
    assert not (base / "data").exists()
    assert (victim / "keep").read_text() == "keep"


def test_remove_tree_through_a_symlinked_parent_is_refused(tree: tuple[Path, Path],
                                                           resolver: str) -> None:
    base, victim = tree
    (victim / "tmp").mkdir()
    (base / "data").rmdir()
    (base / "data").symlink_to(victim)
    with pytest.raises(PathEscape):
        beneath.remove_tree(base, "data/tmp")
    assert (victim / "tmp").is_dir()


def test_remove_tree_of_a_missing_tree_is_a_no_op(tree: tuple[Path, Path]) -> None:
    base, _ = tree
    beneath.remove_tree(base, "nothing/here")


def test_a_beneath_bind_becomes_a_marker_and_then_a_bind_fd(tree: tuple[Path, Path]) -> None:
    base, victim = tree
    (base / "data/inner").mkdir()
    bind = Bind(base / "data/inner", "/app/inner", writable=True, beneath=base)
    assert bind.args == [BIND_BENEATH, str(base), "data/inner", "/app/inner"]
    argv = ["bwrap", *bind.args, "--", "sh", "-c", BIND_BENEATH]
    out = pinned(argv)
    fd = int(out[2])
    try:
        assert out[:2] == ["bwrap", "--bind-fd"] and out[3:] == ["/app/inner", "--", "sh", "-c",
                                                                BIND_BENEATH]
        assert os.fstat(fd).st_ino == (base / "data/inner").stat().st_ino
    finally:
        os.close(fd)
    (base / "data/inner").rmdir()
    (base / "data/inner").symlink_to(victim)
    with pytest.raises(OSError) as refused:
        pinned(argv)
    assert refused.value.errno == errno.ELOOP


def test_a_beneath_bind_must_lie_under_its_base(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Bind(tmp_path / "elsewhere", "/app/x", beneath=tmp_path / "base")


def test_chown_tree_changes_the_tree_and_no_link_target(tree: tuple[Path, Path]) -> None:
    base, victim = tree
    (base / "data/sub").mkdir()
    (base / "data/sub/f").write_text("x")
    (base / "data/sub/tofile").symlink_to(victim / "keep")
    (base / "data/todir").symlink_to(victim)
    (victim / "keep").write_text("keep")
    beneath.chown_tree(base / "data", 4321, 4322)
    owners = {p.name: (p.lstat().st_uid, p.lstat().st_gid) for p in (base / "data").rglob("*")}
    assert set(owners.values()) == {(4321, 4322)} and len(owners) == 4
    assert (base / "data").stat().st_uid == 4321
    assert {(p.lstat().st_uid) for p in [victim, *victim.rglob("*")]} == {os.getuid()}


def test_reown_follows_no_link(tree: tuple[Path, Path]) -> None:
    from shipway.storage.owners import reown

    base, victim = tree
    os.chown(victim, 4000, 4000)
    (base / "data/f").write_text("x")
    os.chown(base / "data/f", 4000, 4000)
    (base / "data/out").symlink_to(victim)
    assert reown(base / "data", {4000: 5000}) == 1
    assert (base / "data/f").stat().st_uid == 5000 and victim.stat().st_uid == 4000


def test_the_routers_home_is_handed_over_without_following_its_links(tmp_path: Path) -> None:
    from shipway.router.caddy import Caddy

    home, victim = tmp_path / "router", tmp_path / "victim"
    (home / "storage").mkdir(parents=True)
    victim.mkdir()
    (victim / "keep").write_text("keep")
    (home / "storage" / "planted").symlink_to(victim)
    caddy = Caddy(home, caddy_bin=Path("/bin/true"))
    caddy._hand_over_home(4321)
    assert (home / "storage").stat().st_uid == 4321
    assert (home / "storage" / "planted").lstat().st_uid == 4321
    assert {p.stat().st_uid for p in (victim, victim / "keep")} == {os.getuid()}


def test_a_pinned_bwrap_is_recognised_as_running_its_argv(tree: tuple[Path, Path]) -> None:
    import sys

    from shipway.sandbox.bindexec import runs

    base, _ = tree
    (base / "data/inner").mkdir()
    bwrap = ["bwrap", "--ro-bind", "/usr", "/usr",
             *Bind(base / "data/inner", "/app/inner", writable=True, beneath=base).args,
             "--", "sh", "-c", "x"]
    argv = [sys.executable, "-m", "shipway.sandbox.bindexec", "--", *bwrap]
    running = pinned(bwrap)
    os.close(int(running[5]))
    assert runs(argv, argv) and runs(running, argv)
    assert not runs([*running[:-1], "y"], argv)
    assert not runs(running[:-1], argv)
    assert not runs(["bwrap", "--ro-bind", "/usr", "/usr", "--bind-fd", "3", "/app/other", "--",
                     "sh", "-c", "x"], argv)
    assert runs(["a", "b"], ["a", "b"]) and not runs(["a"], ["a", "b"])
