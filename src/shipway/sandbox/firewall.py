"""Keep sandboxed uids away from the host's own addresses (B4).

Builds share the host's network so that registries are reached through the
host's proxy and CA setup; an nftables rule on the socket owner's uid then
rejects anything they send to a local address (`fib daddr type local`:
loopback, and every address of the host itself), IPv4 and IPv6 alike, so
the host's services and every environment's services stay out of reach.
DNS (port 53) is the one exception: many hosts resolve through a local stub
(systemd-resolved at 127.0.0.53, dnsmasq), and without it nothing resolves.

Each shipway instance owns one table and one uid range, and only touches its
own chain in that table, so other chains of the same table survive.
"""

from __future__ import annotations

import json
import re
import subprocess

from shipway.errors import PlatformError

CHAIN = "sandbox_out"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def isolation_script(table: str, uids: tuple[int, int], *, allow_dns: bool = True) -> str:
    """An nft script that (re)creates our chain atomically (pure)."""
    owner = _uid_match(uids)
    target = f"inet {_checked(table)} {CHAIN}"
    local = f"add rule {target} meta skuid {owner} fib daddr type local"
    # A TCP reset fails a connect at once; over IPv6 the ICMP answer of a
    # plain reject is rate-limited, and connect() then hangs a second.
    rules = [f"{local} meta l4proto tcp reject with tcp reset", f"{local} reject"]
    if allow_dns:
        rules.insert(0, f"{local} meta l4proto {{ tcp, udp }} th dport 53 accept")
    return (
        "\n".join(
            [
                f"add table inet {table}",
                f"add chain {target} {{ type filter hook output priority 0; policy accept; }}",
                f"flush chain {target}",  # the same script run twice leaves one copy
                *rules,
            ]
        )
        + "\n"
    )


def ensure_isolation(table: str, uids: tuple[int, int], *, allow_dns: bool = True) -> None:
    """Create or refresh the rules; safe to call at every start."""
    _nft(["-f", "-"], isolation_script(table, uids, allow_dns=allow_dns))


def remove_isolation(table: str) -> None:
    """Remove our chain, and the table if nothing else is left in it."""
    objects = _listing(_checked(table))
    if objects is None:
        return
    script = []
    if any(o.get("chain", {}).get("name") == CHAIN for o in objects):
        script += [f"flush chain inet {table} {CHAIN}", f"delete chain inet {table} {CHAIN}"]
    others = [
        o
        for o in objects
        if set(o) - {"metainfo", "table", "rule"} and o.get("chain", {}).get("name") != CHAIN
    ]
    if not others:
        script.append(f"delete table inet {table}")
    if script:
        _nft(["-f", "-"], "\n".join(script) + "\n")


def _listing(table: str) -> list[dict[str, dict[str, object]]] | None:
    result = _run(["-j", "list", "table", "inet", table], None)
    if result.returncode != 0:
        return None  # no such table
    objects: list[dict[str, dict[str, object]]] = json.loads(result.stdout)["nftables"]
    return objects


def _nft(args: list[str], script: str) -> None:
    result = _run(args, script)
    if result.returncode != 0:
        raise PlatformError(f"nft {' '.join(args)} failed: {result.stderr.strip()}")


def _run(args: list[str], script: str | None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["nft", *args], input=script, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise PlatformError("nft not found: apt-get install nftables") from exc


def _uid_match(uids: tuple[int, int]) -> str:
    low, high = uids
    if not 0 < low <= high:
        raise ValueError(f"bad uid range {uids}")
    return str(low) if low == high else f"{low}-{high}"


def _checked(table: str) -> str:
    if not _NAME.fullmatch(table):
        raise ValueError(f"bad nftables table name {table!r}")
    return table
