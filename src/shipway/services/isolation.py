"""Only the apps with a relationship to a service may connect to it (D4).

Theory of operation. Services listen on 127.0.0.1, where any local process
could reach them, and Platform.sh's Redis has no password; so the kernel
decides who gets in. In the instance's nftables table (shared with
sandbox/firewall.py and deploy/gate.py, each keeping to its own chain), our
chain on the output hook looks at every new TCP connection to a local
address: if its destination port is a guarded port (set `service_ports`:
service ports, and since S4 the ports of TCP apps, see deploy/reach.py) and
the pair (port, uid of the connecting socket) is not in `service_access`,
the connect fails at once with a reset.

`allow(port, uids)` makes the uids allowed on a port exactly `uids`, in one
nft transaction (setup included), so a port is never open to all or closed
to all while it changes. Guard a port before starting the server on it. The
rules live in the kernel until a reboot: after one, call `allow` for every
service again before starting them. Only new connections are checked
(`ct state new`): one already open survives a revocation, as the replies of
a server (whose own port is the source, not the destination) always do.
One caller at a time per port: `allow` reads the current set, then changes it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from typing import Any

from shipway.errors import PlatformError

CHAIN = "services_out"
PORTS = "service_ports"
ACCESS = "service_access"
# Kept by standard.py (services on their standard ports, C6a), removed with ours.
NAT_CHAIN = "services_nat"
NAT_MAP = "service_dnat"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def setup_script(table: str) -> list[str]:
    """nft commands that (re)create our sets, chain and rule; idempotent (pure)."""
    t = f"inet {_checked(table)}"
    return [
        f"add table {t}",
        f"add set {t} {PORTS} {{ typeof tcp dport; }}",
        f"add set {t} {ACCESS} {{ typeof tcp dport . meta skuid; }}",
        f"add chain {t} {CHAIN} {{ type filter hook output priority 0; policy accept; }}",
        f"flush chain {t} {CHAIN}",  # run twice, still one rule
        f"add rule {t} {CHAIN} tcp dport @{PORTS} ct state new fib daddr type local "
        f"tcp dport . meta skuid != @{ACCESS} reject with tcp reset",
    ]


def access_script(table: str, port: int, current: Iterable[int], wanted: Iterable[int]) -> list[str]:
    """nft commands that change the uids allowed on `port` from `current` to `wanted` (pure)."""
    _check_port(port)
    have, want = set(current), {_checked_uid(u) for u in wanted}
    t = f"inet {_checked(table)}"
    lines = [f"add element {t} {PORTS} {{ {port} }}"]
    if want - have:
        lines.append(f"add element {t} {ACCESS} {{ {_pairs(port, want - have)} }}")
    if have - want:
        lines.append(f"delete element {t} {ACCESS} {{ {_pairs(port, have - want)} }}")
    return lines


def ensure_service_isolation(table: str) -> None:
    """Create or refresh the chain and sets, keeping the ports and uids already allowed."""
    _nft_script(setup_script(table))


def allow(table: str, port: int, uids: Iterable[int]) -> None:
    """Guard `port`: from now on only `uids` may open connections to it."""
    current = allowed(table).get(port, frozenset())
    _nft_script(setup_script(table) + access_script(table, port, current, uids))


def forget(table: str, port: int) -> None:
    """Stop guarding `port` (its service is gone): anyone may connect to it again."""
    t = f"inet {_checked(table)}"
    lines = [f"delete element {t} {PORTS} {{ {port} }}"] if port in _guarded_ports(table) else []
    uids = allowed(table).get(port)
    if uids:
        lines.append(f"delete element {t} {ACCESS} {{ {_pairs(port, uids)} }}")
    if lines:
        _nft_script(lines)


def keep_within(table: str, first: int, last: int, also: Iterable[int] = ()) -> list[int]:
    """Stop guarding the ports outside first..last and `also`; return them (S6).

    An earlier run of this home with another port range left them, and they
    may be another instance's ports now: guarded here, its router is refused."""
    kept = set(also)
    stale = sorted(p for p in _guarded_ports(table) | set(allowed(table))
                   if not first <= p <= last and p not in kept)
    for port in stale:
        forget(table, port)
    return stale


def allowed(table: str) -> dict[int, frozenset[int]]:
    """Port → the uids allowed on it, as the kernel has them now."""
    pairs: dict[int, set[int]] = {}
    for element in _elements(table, ACCESS):
        port, uid = element["concat"]
        pairs.setdefault(int(port), set()).add(int(uid))
    return {port: frozenset(uids) for port, uids in pairs.items()}


def remove_service_isolation(table: str) -> None:
    """Delete our chain and sets; the table too if nothing else is left in it."""
    objects = _listing(["list", "table", "inet", _checked(table)])
    if objects is None:
        return
    ours = {CHAIN, PORTS, ACCESS, NAT_CHAIN, NAT_MAP}
    t = f"inet {table}"
    lines = []
    for chain in (CHAIN, NAT_CHAIN):
        if any(o.get("chain", {}).get("name") == chain for o in objects):
            lines += [f"flush chain {t} {chain}", f"delete chain {t} {chain}"]
    lines += [f"delete set {t} {name}" for name in (PORTS, ACCESS)
              if any(o.get("set", {}).get("name") == name for o in objects)]
    if any(o.get("map", {}).get("name") == NAT_MAP for o in objects):
        lines.append(f"delete map {t} {NAT_MAP}")
    others = [o for o in objects if set(o) - {"metainfo", "table", "rule"}
              and not any(o.get(k, {}).get("name") in ours for k in ("chain", "set", "map"))]
    if not others:
        lines.append(f"delete table {t}")
    if lines:
        _nft_script(lines)


def _guarded_ports(table: str) -> set[int]:
    return {int(e) for e in _elements(table, PORTS)}


def _elements(table: str, name: str) -> list[Any]:
    objects = _listing(["list", "set", "inet", _checked(table), name])
    if objects is None:
        return []  # no table or no set yet: nothing allowed, nothing guarded
    for obj in objects:
        if "set" in obj:
            return list(obj["set"].get("elem", []))
    return []


def _listing(args: list[str]) -> list[dict[str, Any]] | None:
    result = _run(["-j", *args], None)
    if result.returncode != 0:
        return None
    objects: list[dict[str, Any]] = json.loads(result.stdout)["nftables"]
    return objects


def _nft_script(lines: list[str]) -> None:
    result = _run(["-f", "-"], "\n".join(lines) + "\n")
    if result.returncode != 0:
        raise PlatformError(f"nft failed: {result.stderr.strip()}")


def _run(args: list[str], script: str | None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["nft", *args], input=script, capture_output=True, text=True,
                              check=False)
    except FileNotFoundError as exc:
        raise PlatformError("nft not found: apt-get install nftables") from exc


def _pairs(port: int, uids: Iterable[int]) -> str:
    return ", ".join(f"{port} . {uid}" for uid in sorted(uids))


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise ValueError(f"bad port {port}")


def _checked_uid(uid: int) -> int:
    if uid < 0:
        raise ValueError(f"bad uid {uid}")
    return int(uid)


def _checked(table: str) -> str:
    if not _NAME.fullmatch(table):
        raise ValueError(f"bad nftables table name {table!r}")
    return table
