"""S5: the pure parts of the pids limit: settings, messages, cgroup names."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.errors import UsageError
from shipway.sandbox import cgroupfs, pids
from shipway.settings import load_settings


@pytest.mark.parametrize(("raw", "expected"), [
    (None, 512), ("", 512), ("  ", 512), ("16", 16), ("4096", 4096), (" 64 ", 64),
])
def test_a_limit_is_read_from_its_setting(raw: str | None, expected: int) -> None:
    assert pids.parse_limit("SHIPWAY_BUILD_PIDS", raw, 512) == expected


@pytest.mark.parametrize(("raw", "says"), [
    ("lots", "is not a whole number of processes; set it to e.g. 512"),
    ("-1", "is not a whole number"),
    ("1.5", "is not a whole number"),
    ("max", "is not a whole number"),
    ("0", "is too low: at least 16"),
    ("15", "is too low: at least 16"),
])
def test_a_bad_limit_is_refused_with_its_name(raw: str, says: str) -> None:
    with pytest.raises(UsageError, match=r"^SHIPWAY_BUILD_PIDS=") as refused:
        pids.parse_limit("SHIPWAY_BUILD_PIDS", raw, 512)
    assert says in str(refused.value)


def test_settings_carry_both_limits_with_their_defaults() -> None:
    settings = load_settings({"SHIPWAY_HOME": "/tmp/x"})
    assert (settings.build_pids, settings.app_pids) == (512, 1024)
    settings = load_settings({"SHIPWAY_HOME": "/tmp/x", "SHIPWAY_BUILD_PIDS": "100",
                              "SHIPWAY_APP_PIDS": "200"})
    assert (settings.build_pids, settings.app_pids) == (100, 200)
    with pytest.raises(UsageError, match="SHIPWAY_APP_PIDS='2'"):
        load_settings({"SHIPWAY_HOME": "/tmp/x", "SHIPWAY_APP_PIDS": "2"})


@pytest.mark.parametrize(("who", "setting", "where", "expected"), [
    ("the build", "SHIPWAY_BUILD_PIDS", " in the build hook",
     "the build reached its limit of 64 processes (SHIPWAY_BUILD_PIDS) in the build hook: "
     "a fork was refused, so it was stopped; set SHIPWAY_BUILD_PIDS to raise the limit"),
    ("the deploy hook", "SHIPWAY_APP_PIDS", "",
     "the deploy hook reached its limit of 64 processes (SHIPWAY_APP_PIDS): "
     "a fork was refused, so it was stopped; set SHIPWAY_APP_PIDS to raise the limit"),
])
def test_the_message_names_the_limit_and_the_setting(who: str, setting: str, where: str,
                                                     expected: str) -> None:
    assert pids.limit_message(who, 64, setting, where) == expected


def test_an_app_cgroup_name_is_stable_and_distinct_per_state_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    web, worker = home / "run" / "p" / "main" / "app" / "web", home / "run" / "p" / "main" / "app" / "w"
    assert pids.app_group_name(home, web) == pids.app_group_name(home, web)
    assert pids.app_group_name(home, web) != pids.app_group_name(home, worker)
    assert pids.app_group_name(home, web).startswith(pids.instance_prefix(home) + "-app-")


def test_every_name_carries_its_instance_so_a_sweep_spares_the_others(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert pids.instance_prefix(one) != pids.instance_prefix(two)
    assert pids.instance_prefix(one) == pids.instance_prefix(tmp_path / "x" / ".." / "one")
    names = {pids.transient_name(one, "hook") for _ in range(100)}
    assert len(names) == 100 and all(n.startswith(pids.instance_prefix(one) + "-hook-") for n in names)


def test_the_prefix_is_the_settings_instance_id(tmp_path: Path) -> None:
    settings = load_settings({"SHIPWAY_HOME": str(tmp_path)})
    assert pids.instance_prefix(tmp_path) == f"shipway-{settings.instance}"


def test_the_cgroup_entry_prologue_is_an_argument_list() -> None:
    group = pids.PidsCgroup(Path("/sys/fs/cgroup/pids/g"), 1, 64)
    assert group.wrap(["bwrap", "x y"]) == [
        "/bin/sh", "-c", cgroupfs.ENTER, "/sys/fs/cgroup/pids/g/cgroup.procs", "bwrap", "x y"]


@pytest.mark.parametrize(
    "name",
    ["../../system.slice", "x/../shipway-0123abcd-app-0123456789abcdef", "/sys/fs/cgroup/pids",
     "shipway-0123abcd-app-0123456789abcdef/..", "sshd", "", None, 7,
     "shipway-0123abcd-app-0123456789abcdef\n"],
)
def test_a_name_not_of_shipways_making_is_refused(name: object) -> None:
    with pytest.raises(ValueError, match="not a shipway cgroup name"):
        pids.checked_name(name)


def test_every_name_shipway_makes_is_accepted(tmp_path: Path) -> None:
    for name in (pids.app_group_name(tmp_path, tmp_path / "web"),
                 pids.transient_name(tmp_path, "hook"), pids.transient_name(tmp_path, "build")):
        assert pids.checked_name(name) == name
        assert pids.Limit(name, 64).name == name
