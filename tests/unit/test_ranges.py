"""S6: two instances never share a uid or a port; derived ranges move, set ones refuse."""

from __future__ import annotations

import pytest

from shipway.errors import UserError
from shipway.ranges import (
    PORT_BLOCKS,
    UID_BLOCKS,
    Claim,
    RangeConflict,
    check_port_base,
    check_uid_base,
    clashes,
    derived_port_base,
    derived_uid_base,
    settle,
)
from shipway.settings import load_settings


def claim(home: str, uid: int, port: int, pid: int = 0) -> Claim:
    return Claim(home, f"shipway_{home.strip('/')}", uid, port, pid)


A = claim("/a", 203_000, 10_300, pid=11)


@pytest.mark.parametrize(
    ("other", "found"),
    [
        (claim("/b", 204_000, 10_600), []),
        (claim("/b", 203_000, 10_600), ["uids"]),
        (claim("/b", 203_999, 10_600), ["uids"]),  # one uid in common is one too many
        (claim("/b", 202_001, 10_600), ["uids"]),
        (claim("/b", 202_000, 10_600), []),
        (claim("/b", 204_000, 10_599), ["ports"]),
        (claim("/b", 204_000, 10_000), []),
        (claim("/b", 203_500, 10_450), ["uids", "ports"]),
        (claim("/a", 204_000, 10_600), ["home"]),
    ],
)
def test_clashes(other: Claim, found: list[str]) -> None:
    assert clashes(A, other) == found
    assert clashes(other, A) == found


@pytest.mark.parametrize(
    ("live", "dead", "movable", "uid", "port"),
    [
        ([], [], (), 203_000, 10_300),  # alone: as wanted
        ([claim("/b", 204_000, 10_600)], [], (), 203_000, 10_300),
        # Derived ranges step to the next free block of their grid.
        ([claim("/b", 203_000, 10_600)], [], ("uids", "ports"), 204_000, 10_300),
        ([claim("/b", 203_000, 10_300), claim("/c", 204_000, 10_600)], [], ("uids", "ports"),
         205_000, 10_900),
        # A stopped instance's blocks are avoided when there is a choice...
        ([], [claim("/b", 203_000, 10_300)], ("uids", "ports"), 204_000, 10_600),
        # ...and taken over when the range was set.
        ([], [claim("/b", 203_000, 10_300)], (), 203_000, 10_300),
        # The last port block wraps round to the first.
        ([claim("/b", 204_000, 29_500)], [], ("ports",), 203_000, 10_000),
    ],
)
def test_settle(live: list[Claim], dead: list[Claim], movable: tuple[str, ...], uid: int,
                port: int) -> None:
    wanted = claim("/a", 203_000, 10_300 if port != 10_000 else 29_500)
    got = settle(wanted, live, dead, movable)
    assert (got.uid_base, got.port_base) == (uid, port)
    assert not any(set(clashes(got, o)) & {"uids", "ports"} for o in live)


def test_every_port_block_taken_by_live_instances_refuses() -> None:
    live = [claim(f"/b{i}", 300_000 + i * 1000, 10_000 + i * 300) for i in range(66)]
    with pytest.raises(RangeConflict, match="SHIPWAY_PORT_BASE"):
        settle(claim("/a", 203_000, 10_300), live, [], ("uids", "ports"))


@pytest.mark.parametrize(
    ("other", "variable", "suggestion"),
    [
        (claim("/b", 203_000, 10_600, pid=42), "SHIPWAY_UID_BASE", "SHIPWAY_UID_BASE=204000"),
        (claim("/b", 204_000, 10_300, pid=42), "SHIPWAY_PORT_BASE", "SHIPWAY_PORT_BASE=10600"),
    ],
)
def test_a_set_range_in_use_is_refused_with_what_to_set(other: Claim, variable: str,
                                                        suggestion: str) -> None:
    with pytest.raises(RangeConflict) as refused:
        settle(claim("/a", 203_000, 10_300), [other], [], ())
    message = str(refused.value)
    assert variable in message and suggestion in message, message
    assert "SHIPWAY_HOME=/b (pid 42)" in message and "SHIPWAY_HOME=/a" in message


def test_the_same_home_twice_is_refused() -> None:
    with pytest.raises(RangeConflict, match=r"already runs with SHIPWAY_HOME=/a"):
        settle(claim("/a", 203_000, 10_300), [claim("/a", 203_000, 10_300, pid=7)], [], ("uids",))


def test_claims_read_back() -> None:
    assert Claim.from_json(A.as_json()) == A


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("SHIPWAY_UID_BASE", "0", False),  # builds would run as system users
        ("SHIPWAY_UID_BASE", "1000", False),  # the first person's uid
        ("SHIPWAY_UID_BASE", "65000", False),  # nobody (65534) inside
        ("SHIPWAY_UID_BASE", "100000", True),
        ("SHIPWAY_UID_BASE", "6000000", True),
        ("SHIPWAY_UID_BASE", str(2**32 - 1000), False),
        ("SHIPWAY_PORT_BASE", "80", False),
        ("SHIPWAY_PORT_BASE", "1024", True),
        ("SHIPWAY_PORT_BASE", "32468", True),  # last port 32767
        ("SHIPWAY_PORT_BASE", "32469", False),  # reaches the ephemeral range
        ("SHIPWAY_PORT_BASE", "40000", False),
    ],
)
def test_set_bases_must_stay_clear_of_the_hosts_own(name: str, value: str, ok: bool) -> None:
    env = {"SHIPWAY_HOME": "/srv/x", name: value}
    if ok:
        load_settings(env)
    else:
        with pytest.raises(UserError, match=f"{name}={value}: .* set it to e.g."):
            load_settings(env)


def test_every_derived_base_passes_the_checks() -> None:
    assert all(check_uid_base(derived_uid_base(d)) for d in range(UID_BLOCKS))
    assert all(check_port_base(derived_port_base(d)) for d in range(PORT_BLOCKS))
