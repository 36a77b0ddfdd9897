"""Machine-wide claims of uid and port ranges, one per running instance (S6).

Theory of operation. Each `shipway serve` writes a claim file under
CLAIMS_DIR (its home, nftables table, uid and port bases, pid) and holds an
exclusive flock on it for as long as it runs. The kernel drops the lock when
the process dies, however it dies, so a claim whose lock can be taken is a
stopped instance's: its ranges may be reused. Claiming happens under a lock
on the directory, so two instances starting at once see each other. The
decision (take, move, refuse) is pure: ranges.settle.

The fd is close-on-exec, so Caddy and the app supervisors, which outlive a
`kill -9` of the control plane, never keep the claim alive on its behalf.

A stopped instance's nftables table keeps refusing its ports to every uid
but its own (and its gate keeps holding them), so when we take over any of
its ranges we delete its table too: only tables named in a claim, never one
a claim does not name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from shipway.ranges import PORT_ORIGIN, PORTS_PER_INSTANCE, Claim, clashes, settle
from shipway.settings import Settings

CLAIMS_DIR = Path("/run/shipway/instances")


@dataclass
class HeldClaim:
    """Our claim, held until the process exits (or `release`)."""

    claim: Claim
    fd: int
    notes: list[str] = field(default_factory=list)

    def release(self) -> None:
        os.close(self.fd)


def claim_ranges(settings: Settings, directory: Path = CLAIMS_DIR) -> tuple[Settings, HeldClaim]:
    """Claim this instance's ranges or raise RangeConflict; save what was taken in the home."""
    wanted = Claim(str(settings.home), settings.firewall_table, settings.uid_base,
                   settings.port_base, os.getpid())
    # A home already used keeps its uids: its files belong to them.
    movable = settings.derived_ranges if not settings.db_path.exists() else frozenset()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(directory / ".lock"):
        live, dead = _read_claims(directory)
        for path in [p for p, c in dead.items() if not Path(c.home).is_dir()]:
            path.unlink(missing_ok=True)  # its home is gone: it will never start again
            del dead[path]
        dead = {path: c for path, c in dead.items() if c.home != wanted.home}
        foreign = _unclaimed_guards({c.table for c in [*live.values(), *dead.values()]}
                                    | {wanted.table})
        claim = settle(wanted, list(live.values()),
                       [*dead.values(), *(_block_of(t, p) for t, p in foreign.items())], movable)
        notes = [_take_over(path, old, claim) for path, old in dead.items()
                 if {"uids", "ports"} & set(clashes(claim, old))]
        notes += [_warning(table, claim, ports) for table, ports in foreign.items()
                  if any(claim.ports[0] <= p <= claim.ports[1] for p in ports)]
        fd = _hold(directory / f"{settings.instance}.json", claim)
    _save(settings.ranges_path, claim)
    chosen = replace(settings, uid_base=claim.uid_base, port_base=claim.port_base)
    if (claim.uid_base, claim.port_base) != (wanted.uid_base, wanted.port_base):
        notes.append(f"uids {claim.uids[0]}-{claim.uids[1]} and ports {claim.ports[0]}-"
                     f"{claim.ports[1]} (the derived ones were another instance's)")
    return chosen, HeldClaim(claim, fd, notes)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_claims(directory: Path) -> tuple[dict[Path, Claim], dict[Path, Claim]]:
    """(live, dead) claims: a claim is live while its owner holds its lock."""
    live, dead = {}, {}
    for path in sorted(directory.glob("*.json")):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            claim = Claim.from_json(json.loads(os.read(fd, 65536) or b"{}"))
        except (ValueError, KeyError, TypeError):
            os.close(fd)
            continue  # torn or foreign: it claims nothing
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            live[path] = claim
        else:
            dead[path] = claim
        os.close(fd)
    return live, dead


def _take_over(path: Path, old: Claim, ours: Claim) -> str:
    """Drop a stopped instance's claim on ranges we now take, and its firewall table."""
    path.unlink(missing_ok=True)
    if old.table != ours.table:
        subprocess.run(["nft", "delete", "table", "inet", old.table], capture_output=True,
                       check=False)
    return (f"took over ranges of the stopped instance at {old.home} (pid {old.pid}); "
            f"removed its firewall table {old.table}")


def _unclaimed_guards(claimed: set[str]) -> dict[str, list[int]]:
    """Tables no claim names (an older shipway's, running or not) → the ports they guard.

    We cannot tell whether their instance still runs, so we leave them be;
    a derived range steers clear of their ports."""
    found = {}
    for table in _nft_names(["list", "tables"], "table"):
        if table.startswith("shipway_") and table not in claimed:
            ports = sorted(e for e in _nft_elements(table, "service_ports") if isinstance(e, int))
            if ports:
                found[table] = ports
    return found


def _block_of(table: str, ports: list[int]) -> Claim:
    """A stand-in claim on the port block an unclaimed table guards (no uids)."""
    base = PORT_ORIGIN + (ports[0] - PORT_ORIGIN) // PORTS_PER_INSTANCE * PORTS_PER_INSTANCE
    return Claim(f"(unclaimed table {table})", table, 0, base)


def _warning(table: str, ours: Claim, ports: list[int]) -> str:
    inside = [p for p in ports if ours.ports[0] <= p <= ours.ports[1]]
    return (f"W: the firewall table {table}, which no running shipway claims, refuses our ports "
            f"{inside[0]}-{inside[-1]} to our router; if its instance is gone: "
            f"nft delete table inet {table}")


def _nft_names(args: list[str], kind: str) -> list[str]:
    out = subprocess.run(["nft", "-j", *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return []
    items = json.loads(out.stdout).get("nftables", [])
    return [str(i[kind]["name"]) for i in items if kind in i and i[kind].get("family") == "inet"]


def _nft_elements(table: str, name: str) -> list[object]:
    out = subprocess.run(["nft", "-j", "list", "set", "inet", table, name], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        return []
    for item in json.loads(out.stdout).get("nftables", []):
        if "set" in item:
            return list(item["set"].get("elem", []))
    return []


def _hold(path: Path, claim: Claim) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # under the directory lock: ours, or live
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(claim.as_json()).encode() + b"\n", 0)
    return fd


def _save(path: Path, claim: Claim) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(json.dumps({"uid_base": claim.uid_base, "port_base": claim.port_base}) + "\n")
    os.replace(tmp, path)
