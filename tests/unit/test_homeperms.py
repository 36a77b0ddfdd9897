"""S3: who may pass through and read what under SHIPWAY_HOME (homeperms.py)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from shipway.errors import PlatformError
from shipway.homeperms import (
    HOME_MODES,
    TRAVERSABLE,
    DirStat,
    blocked_by,
    can_search,
    check_router_reaches,
    make_traversable,
    secure_home,
)

ROUTER, APPS = 200999, 200998


@pytest.mark.parametrize(
    ("mode", "owner", "group", "uid", "gids", "expected"),
    [
        (0o755, 0, 0, ROUTER, (APPS,), True),
        (0o711, 0, 0, ROUTER, (APPS,), True),
        (0o700, 0, 0, ROUTER, (APPS,), False),  # mktemp -d, /root
        (0o750, 0, 0, ROUTER, (APPS,), False),
        (0o710, 0, APPS, ROUTER, (APPS,), True),  # through its group
        (0o701, 0, APPS, ROUTER, (APPS,), False),  # the group bits win for a member
        (0o700, ROUTER, 0, ROUTER, (), True),  # its own home
        (0o070, ROUTER, 0, ROUTER, (0,), False),  # the owner bits win for the owner
        (0o000, 5, 5, 0, (), True),  # root passes everywhere
        (0o1777, 0, 0, ROUTER, (), True),  # /tmp
    ],
)
def test_can_search(mode: int, owner: int, group: int, uid: int, gids: tuple[int, ...],
                    expected: bool) -> None:
    assert can_search(DirStat("/d", mode, owner, group), uid, gids) is expected


def test_blocked_by_names_the_first_closed_directory() -> None:
    chain = [DirStat("/", 0o755, 0, 0), DirStat("/tmp", 0o1777, 0, 0),
             DirStat("/tmp/tmp.x", 0o700, 0, 0), DirStat("/tmp/tmp.x/y", 0o700, 0, 0)]
    assert blocked_by(chain, ROUTER, (APPS,)) == chain[2]
    assert blocked_by(chain[:2], ROUTER, (APPS,)) is None


def test_a_home_under_a_0700_directory_is_refused_with_what_to_do() -> None:
    closed = Path(tempfile.mkdtemp())  # 0700, under /tmp (1777): as `mktemp -d` makes it
    try:
        with pytest.raises(PlatformError) as error:
            check_router_reaches(closed / "home", ROUTER, (APPS,))
        assert f"chmod o+x {closed}" in str(error.value) and "SHIPWAY_HOME" in str(error.value)
        os.chmod(closed, 0o711)
        check_router_reaches(closed / "home", ROUTER, (APPS,))
    finally:
        os.rmdir(closed)


def test_secure_home_fixes_an_old_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for rel in ("state", "logs", "activities", "storage", "run", "current"):
        (home / rel).mkdir(parents=True)
        os.chmod(home / rel, 0o755)  # as the default umask made them before S3
    db = home / "state" / "shipway.db"
    db.write_text("x")
    changed = secure_home(home)
    assert len(changed) == 7  # the six and the home itself
    for rel in ("state", "logs", "activities", "storage"):
        assert stat.S_IMODE((home / rel).stat().st_mode) == HOME_MODES[rel] == 0o700
    for rel in ("", "run", "current"):
        assert stat.S_IMODE((home / rel).stat().st_mode) == TRAVERSABLE
    assert secure_home(home) == []  # nothing left to fix


def test_make_traversable_opens_each_level_for_search_only(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        deep = make_traversable(tmp_path, tmp_path / "run" / "p" / "e" / "app")
    finally:
        os.umask(old)
    for path in (tmp_path / "run", tmp_path / "run" / "p", tmp_path / "run" / "p" / "e", deep):
        assert stat.S_IMODE(path.stat().st_mode) == 0o711
