"""S6: claims are held by a live process, reclaimable once it is gone (real flock, real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipway.claims import claim_ranges
from shipway.ranges import RangeConflict
from shipway.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def settings_for(home: Path, **env: str) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    return load_settings({"SHIPWAY_HOME": str(home), **env})


def claim_in_child(claims: Path, home: Path, *env: str) -> subprocess.Popen[str]:
    """Another process claims, says so, and holds the claim until its stdin closes."""
    code = ("import sys; from pathlib import Path; from shipway.claims import claim_ranges; "
            "from shipway.settings import load_settings\n"
            f"s = load_settings({{'SHIPWAY_HOME': {str(home)!r}, **dict(a.split('=', 1) for a in "
            "sys.argv[1:])})\n"
            f"claim_ranges(s, Path({str(claims)!r})); print('claimed', flush=True); "
            "sys.stdin.read()")
    home.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen([sys.executable, "-c", code, *env], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True,
                             env={"PYTHONPATH": str(ROOT / "src"), "PATH": os.environ["PATH"]})
    assert child.stdout is not None and child.stdout.readline() == "claimed\n"
    return child


def stop(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.close()
    child.wait(timeout=10)
    child.stdout.close()


SAME = ("SHIPWAY_UID_BASE=4100000", "SHIPWAY_PORT_BASE=30000")


def test_a_second_instance_on_set_ranges_in_use_is_refused(tmp_path: Path) -> None:
    other = claim_in_child(tmp_path / "claims", tmp_path / "a", *SAME)
    try:
        mine = settings_for(tmp_path / "b", **dict(a.split("=") for a in SAME))
        with pytest.raises(RangeConflict, match="set SHIPWAY_UID_BASE to a free range"):
            claim_ranges(mine, tmp_path / "claims")
        assert not mine.ranges_path.exists()
    finally:
        stop(other)
    # Its owner gone, the same ranges are ours.
    settings, held = claim_ranges(mine, tmp_path / "claims")
    held.release()
    assert (settings.uid_base, settings.port_base) == (4_100_000, 30_000)


def test_derived_ranges_move_off_a_live_claim_and_are_kept(tmp_path: Path) -> None:
    first = settings_for(tmp_path / "a")
    other = claim_in_child(tmp_path / "claims", tmp_path / "b",
                           f"SHIPWAY_UID_BASE={first.uid_base}",
                           f"SHIPWAY_PORT_BASE={first.port_base}")
    try:
        settings, held = claim_ranges(first, tmp_path / "claims")
        held.release()
    finally:
        stop(other)
    assert settings.uid_base != first.uid_base and settings.port_base != first.port_base
    assert any("another instance's" in n for n in held.notes)
    # Saved in the home: the next start (and every client) reads the same bases back.
    again = load_settings({"SHIPWAY_HOME": str(tmp_path / "a")})
    assert (again.uid_base, again.port_base) == (settings.uid_base, settings.port_base)
    assert again.derived_ranges == frozenset()


def test_the_same_home_twice_is_refused(tmp_path: Path) -> None:
    other = claim_in_child(tmp_path / "claims", tmp_path / "a")
    try:
        with pytest.raises(RangeConflict, match="already runs with SHIPWAY_HOME="):
            claim_ranges(settings_for(tmp_path / "a"), tmp_path / "claims")
    finally:
        stop(other)


def test_a_stopped_instance_whose_home_is_gone_leaves_no_claim(tmp_path: Path) -> None:
    stop(claim_in_child(tmp_path / "claims", tmp_path / "gone", *SAME))
    assert [json.loads(p.read_text())["home"] for p in (tmp_path / "claims").glob("*.json")] == [
        str(tmp_path / "gone")]
    (tmp_path / "gone").rename(tmp_path / "elsewhere")
    _, held = claim_ranges(settings_for(tmp_path / "b"), tmp_path / "claims")
    held.release()
    assert [json.loads(p.read_text())["home"] for p in (tmp_path / "claims").glob("*.json")] == [
        str(tmp_path / "b")]
