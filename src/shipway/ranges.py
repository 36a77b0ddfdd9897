"""Which uids and ports an instance may take, given the others on the machine (S6).

Every shipway instance owns a block of uids (environments/slots.py) and a
block of TCP ports for its apps and services. Several instances may run side
by side (tests, staging beside production); two that share a uid would run
each other's apps, and two that share a port fight over it, while each
one's firewall refuses the other's router. So each running instance claims
its blocks machine-wide (claims.py does the locking) and these pure rules
decide: a range an operator set is taken as it is or refused with what to
set instead; a range derived from SHIPWAY_HOME moves to the next free block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from shipway.environments.slots import UIDS_PER_INSTANCE
from shipway.errors import UserError

# The grids derived bases come from; an explicit base may be anywhere.
UID_ORIGIN, UID_BLOCKS = 200_000, 5000  # above the range Debian hands to people
PORTS_PER_INSTANCE = 300
PORT_ORIGIN, PORT_BLOCKS = 10_000, 66  # below Linux's ephemeral range (32768)

Span = tuple[int, int]  # first, last (inclusive)


class RangeConflict(UserError):
    """This instance's uids or ports are another running instance's."""


@dataclass(frozen=True)
class Claim:
    home: str
    table: str
    uid_base: int
    port_base: int
    pid: int = 0

    @property
    def uids(self) -> Span:
        return (self.uid_base, self.uid_base + UIDS_PER_INSTANCE - 1)

    @property
    def ports(self) -> Span:
        return (self.port_base, self.port_base + PORTS_PER_INSTANCE - 1)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Claim:
        return cls(str(data["home"]), str(data["table"]), int(data["uid_base"]),
                   int(data["port_base"]), int(data.get("pid", 0)))


def derived_uid_base(digest: int) -> int:
    return UID_ORIGIN + (digest % UID_BLOCKS) * UIDS_PER_INSTANCE


def derived_port_base(digest: int) -> int:
    return PORT_ORIGIN + (digest % PORT_BLOCKS) * PORTS_PER_INSTANCE


# Below: the system's and its people's uids (nobody is 65534). Above: the kernel's last.
MIN_UID_BASE, MAX_UID = 100_000, 2**32 - 2
# Linux hands out 32768-60999 to outgoing connections: an app port there may be taken.
MIN_PORT_BASE, EPHEMERAL_PORTS = 1024, 32768


def check_uid_base(base: int) -> int:
    """`base` if its block stays clear of the host's own uids (pure)."""
    if not MIN_UID_BASE <= base <= MAX_UID - UIDS_PER_INSTANCE:
        raise UserError(f"SHIPWAY_UID_BASE={base}: its {UIDS_PER_INSTANCE} uids must lie in "
                        f"{MIN_UID_BASE}-{MAX_UID}, clear of the system's and its users'; "
                        f"set it to e.g. {UID_ORIGIN}")
    return base


def check_port_base(base: int) -> int:
    """`base` if its block is neither privileged nor ephemeral (pure)."""
    if not MIN_PORT_BASE <= base <= EPHEMERAL_PORTS - PORTS_PER_INSTANCE:
        raise UserError(f"SHIPWAY_PORT_BASE={base}: its {PORTS_PER_INSTANCE} ports must lie in "
                        f"{MIN_PORT_BASE}-{EPHEMERAL_PORTS - 1} (above that, outgoing "
                        f"connections take ports); set it to e.g. {PORT_ORIGIN}")
    return base


def overlaps(a: Span, b: Span) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def clashes(mine: Claim, other: Claim) -> list[str]:
    """What `mine` shares with `other`: "home" (the same instance), "uids", "ports"."""
    found = ["home"] if mine.home == other.home or mine.table == other.table else []
    if overlaps(mine.uids, other.uids):
        found.append("uids")
    if overlaps(mine.ports, other.ports):
        found.append("ports")
    return found


def settle(wanted: Claim, live: Sequence[Claim], dead: Sequence[Claim] = (),
           movable: Iterable[str] = ()) -> Claim:
    """The claim to take (pure). `live` are running instances' claims, `dead`
    those of stopped ones (avoided when a range may move, else taken over);
    `movable` names the ranges ("uids", "ports") derived, not set."""
    may_move = set(movable)
    for other in live:
        if "home" in clashes(wanted, other):
            raise RangeConflict(
                f"another `shipway serve` (pid {other.pid}) already runs with "
                f"SHIPWAY_HOME={other.home}; stop it first")
    claim = wanted
    for kind in ("uids", "ports"):
        taken = [o for o in live if kind in clashes(claim, o)]
        if not taken:
            if kind in may_move and any(kind in clashes(claim, o) for o in dead):
                claim = _moved(claim, kind, [*live, *dead]) or claim
            continue
        moved = _moved(claim, kind, [*live, *dead]) or _moved(claim, kind, live)
        if kind not in may_move or moved is None:
            raise RangeConflict(_conflict_message(claim, taken[0], kind, moved))
        claim = moved
    return claim


def _moved(claim: Claim, kind: str, others: Sequence[Claim]) -> Claim | None:
    """`claim` with its `kind` range on the first free block of its grid, or None."""
    if kind == "uids":
        start = (claim.uid_base - UID_ORIGIN) // UIDS_PER_INSTANCE
        for i in range(UID_BLOCKS):
            moved = replace(claim, uid_base=derived_uid_base(start + i))
            if not any(kind in clashes(moved, o) for o in others):
                return moved
        return None
    start = (claim.port_base - PORT_ORIGIN) // PORTS_PER_INSTANCE
    for i in range(PORT_BLOCKS):
        moved = replace(claim, port_base=derived_port_base(start + i))
        if not any(kind in clashes(moved, o) for o in others):
            return moved
    return None


def _conflict_message(mine: Claim, other: Claim, kind: str, free: Claim | None) -> str:
    what, (low, high), (olow, ohigh) = (
        ("uid", mine.uids, other.uids) if kind == "uids" else ("port", mine.ports, other.ports))
    name = "SHIPWAY_UID_BASE" if kind == "uids" else "SHIPWAY_PORT_BASE"
    hint = ""
    if free is not None:
        hint = f", e.g. {name}={free.uid_base if kind == 'uids' else free.port_base}"
    return (f"this shipway (SHIPWAY_HOME={mine.home}) would use {what}s {low}-{high}, but the "
            f"shipway serving SHIPWAY_HOME={other.home} (pid {other.pid}) uses {olow}-{ohigh}; "
            f"set {name} to a free range for one of them{hint}")
