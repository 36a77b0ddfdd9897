"""The pure parts of storage/: names, the choice of pool, mountinfo and
qgroup parsing, and which files a cloned data directory loses."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from shipway.errors import UsageError
from shipway.storage import scrub_clone
from shipway.storage.btrfs import parse_qgroup_show
from shipway.storage.mode import Choice, Facts, choose, mount_of, parse_mountinfo
from shipway.storage.naming import Layout, ancestors, check_name, parse_ref

GOOD_NAMES = ["p", "proj/main-bvxea6i", "a/b/c/d", "p/feature.x_1"]
BAD_NAMES = ["", "/p", "p/", "p//e", "../p", "p/..", "p/.hidden", "a/b/c/d/e", "p/e@s", "p e", "-p"]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names(name: str) -> None:
    with pytest.raises(UsageError, match="invalid volume name"):
        check_name(name)


@pytest.mark.parametrize(("ref", "default", "expected"), [
    ("p/main@deploy-3", None, ("p/main", "deploy-3")),
    ("deploy-3", "p/dev", ("p/dev", "deploy-3")),
    ("p/main@deploy-3", "p/dev", ("p/main", "deploy-3")),
])
def test_snapshot_refs(ref: str, default: str | None, expected: tuple[str, str]) -> None:
    assert parse_ref(ref, default) == expected


@pytest.mark.parametrize(("ref", "message"), [
    ("deploy-3", "names no volume"), ("p/main@", "invalid snapshot name"),
    ("p/main@a/b", "invalid snapshot name"), ("@s", "invalid volume name"),
])
def test_bad_snapshot_refs(ref: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_ref(ref)


def test_ancestors_and_layout() -> None:
    assert ancestors("a/b/c") == ["a", "a/b"] and ancestors("a") == []
    layout = Layout(Path("/h/volumes"))
    assert layout.volume("p/e") == Path("/h/volumes/vol/p/e")
    assert layout.snapshot_entry("p/e", "s1") == Path("/h/volumes/snap/p/e/s1")


EXT4 = Facts(recorded=None, image_exists=False, root_fstype="ext4", kernel_btrfs=True, progs=True)
CHOICES = [
    # (requested, changes to EXT4, expected kind, words in the reason)
    ("auto", {}, "loop", ""),
    ("btrfs", {}, "loop", ""),
    ("copy", {}, "copy", "requested"),
    ("auto", {"root_fstype": "btrfs"}, "host", ""),
    ("auto", {"root_fstype": "btrfs", "progs": False}, "copy", "btrfs-progs"),
    ("auto", {"kernel_btrfs": False}, "copy", "kernel"),
    ("auto", {"progs": False}, "copy", "apt-get install btrfs-progs"),
    ("btrfs", {"progs": False}, None, "btrfs mode was requested"),
    ("auto", {"recorded": "copy"}, "copy", ""),
    ("copy", {"recorded": "copy"}, "copy", ""),
    ("btrfs", {"recorded": "copy"}, None, "created in copy mode"),
    ("copy", {"recorded": "loop"}, None, "created in btrfs mode"),
    ("btrfs", {"recorded": "host"}, "host", ""),
    # A mounted loop pool is btrfs too; the record, not the fstype, decides.
    ("auto", {"recorded": "loop", "root_fstype": "btrfs"}, "loop", ""),
    # The record was lost but the image holds the data.
    ("auto", {"image_exists": True, "progs": False}, "loop", ""),
    ("copy", {"image_exists": True}, None, "holds data"),
]


@pytest.mark.parametrize(("requested", "changes", "kind", "words"), CHOICES)
def test_choose(requested: str, changes: dict[str, object], kind: str | None, words: str) -> None:
    choice = choose(requested, replace(EXT4, **changes))  # type: ignore[arg-type]
    assert choice.kind == kind and words in choice.reason, choice


def test_choice_is_a_value() -> None:
    assert choose("auto", EXT4) == Choice("loop")


MOUNTINFO = """\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
48 22 0:44 / /var/lib/shipway/volumes rw,nosuid,nodev,noatime - btrfs /dev/loop1 rw,discard=async
49 22 0:45 / /srv/my\\040disk rw shared:7 - xfs /dev/vdb rw
50 48 0:46 / /var/lib/shipway/volumes rw - tmpfs tmpfs rw
"""


def test_mountinfo_is_parsed_with_escapes_and_optional_fields() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert [(str(m.point), m.fstype, m.source) for m in mounts[1:3]] == [
        ("/var/lib/shipway/volumes", "btrfs", "/dev/loop1"), ("/srv/my disk", "xfs", "/dev/vdb")]


@pytest.mark.parametrize(("path", "fstype"), [
    ("/", "ext4"), ("/var/lib/shipway", "ext4"), ("/var/lib/shipwayx/volumes", "ext4"),
    ("/srv/my disk/a/b", "xfs"),
])
def test_mount_of_finds_the_longest_mount_point(path: str, fstype: str) -> None:
    found = mount_of(Path(path), parse_mountinfo(MOUNTINFO))
    assert found is not None and found.fstype == fstype


def test_a_later_mount_on_the_same_point_hides_the_earlier() -> None:
    found = mount_of(Path("/var/lib/shipway/volumes/vol"), parse_mountinfo(MOUNTINFO))
    assert found is not None and found.fstype == "tmpfs"


QGROUP_SHOW = """\
Qgroupid    Referenced    Exclusive  Max referenced  Max exclusive   Path
--------    ----------    ---------  --------------  -------------   ----
0/257         52445184        16384            none       20971520   vol/p/e
"""


def test_qgroup_show_is_parsed() -> None:
    usage = parse_qgroup_show(QGROUP_SHOW)
    assert (usage.referenced, usage.exclusive, usage.limit) == (52445184, 16384, 20971520)
    assert parse_qgroup_show(QGROUP_SHOW.replace("20971520", "none")).limit is None
    assert parse_qgroup_show(QGROUP_SHOW.replace("none ", "1048576 ")).limit == 20971520
    with pytest.raises(ValueError):
        parse_qgroup_show("ERROR: can't list qgroups: quotas not enabled")


SCRUB_CASES = [
    # (files in one folder, those removed)
    ({"PG_VERSION", "postmaster.pid", "postmaster.opts"}, {"postmaster.pid"}),
    ({"postmaster.pid"}, set()),  # not a PostgreSQL data directory
    ({"ibdata1", "db1.pid", "aria_log_control"}, {"db1.pid"}),
    ({"app.pid", "upload.jpg"}, set()),  # an app's mount: its own pid files are its business
    ({".s.PGSQL.5432.lock", "mysqld.sock.lock", "dump.rdb"}, {".s.PGSQL.5432.lock", "mysqld.sock.lock"}),
]


@pytest.mark.parametrize(("files", "removed"), SCRUB_CASES)
def test_scrub_clone_rules(tmp_path: Path, files: set[str], removed: set[str]) -> None:
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_text("x")
    assert {p.name for p in scrub_clone(tmp_path)} == removed
    assert {p.name for p in folder.iterdir()} == files - removed
