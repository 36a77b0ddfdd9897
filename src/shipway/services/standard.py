"""Services on their standard ports at their relationship host names (C6a).

Theory of operation. A server listens on 127.0.0.1 on a port of its own
(many environments share the host), but real apps hard-code the standard
port: WordPress's `wp-config.php` sets `DB_HOST` to the relationship's host
with no port, so it dials 3306. So each service instance also gets an
address of its own, `service_address(port)`, inside 127.0.0.0/8 (all of it
is the loopback interface on Linux), and `<relationship>.internal` resolves
to it (the app's /etc/hosts, relationships.py). A connection to that
address on the standard port is translated to 127.0.0.1 and the instance's
own port by a DNAT map in the instance's nftables table, in a chain on the
output hook at nat priority (-100): it runs before the isolation chain
(priority 0, isolation.py), which therefore still sees, and guards, the
instance's own port, so who may connect is decided exactly as before.
PLATFORM_RELATIONSHIPS keeps its shape: `ip` is the service's address,
`port` the standard one.

The address is derived from the instance's port, which is unique on the
machine (each instance of shipway claims its own range, ranges.py), so two
environments never share one. The translations live in the kernel until a
reboot, as the isolation rules do: `expose` adds them again at every start.
"""

from __future__ import annotations

import re

from shipway.services import isolation

STANDARD_PORTS = {"postgresql": 5432, "mariadb": 3306, "oracle-mysql": 3306, "redis": 6379,
                  "memcached": 11211}
CHAIN = isolation.NAT_CHAIN
MAP = isolation.NAT_MAP
PREFIX = "127.77"  # 127.77.0.0/16: one address per allocated port
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def service_address(port: int) -> str:
    """The loopback address of the instance listening on `port` (pure)."""
    if not 0 < port < 65536:
        raise ValueError(f"bad port {port}")
    return f"{PREFIX}.{port >> 8}.{port & 255}"


def standard_port(engine: str) -> int | None:
    return STANDARD_PORTS.get(engine)


def setup_script(table: str) -> list[str]:
    """nft commands that (re)create the map and the translating chain; idempotent (pure)."""
    t = f"inet {_checked(table)}"
    return [
        f"add table {t}",
        f"add map {t} {MAP} {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}",
        f"add chain {t} {CHAIN} {{ type nat hook output priority -100; policy accept; }}",
        f"flush chain {t} {CHAIN}",
        f"add rule {t} {CHAIN} meta nfproto ipv4 ip daddr {PREFIX}.0.0/16 "
        f"dnat ip to ip daddr . tcp dport map @{MAP}",
    ]


def add_script(table: str, port: int, standard: int) -> list[str]:
    """Translate `service_address(port):standard` to 127.0.0.1:port (pure)."""
    t = f"inet {_checked(table)}"
    element = f"{service_address(port)} . {standard}"
    return [f"add element {t} {MAP} {{ {element} : 127.0.0.1 . {port} }}"]


def delete_script(table: str, port: int, standard: int) -> list[str]:
    t = f"inet {_checked(table)}"
    return [f"delete element {t} {MAP} {{ {service_address(port)} . {standard} }}"]


def translate(table: str, port: int, engine: str) -> None:
    """Make the instance on `port` answer at its own address on its standard port."""
    standard = standard_port(engine)
    if standard is None:
        return
    # Delete first (ignoring its absence) so a restart with the same port is no error.
    isolation._run(["-f", "-"], "\n".join(delete_script(table, port, standard)) + "\n")
    isolation._nft_script(setup_script(table) + add_script(table, port, standard))


def untranslate(table: str, port: int, engine: str) -> None:
    standard = standard_port(engine)
    if standard is not None:
        isolation._run(["-f", "-"], "\n".join(delete_script(table, port, standard)) + "\n")


def _checked(table: str) -> str:
    if not _NAME.fullmatch(table):
        raise ValueError(f"bad nftables table name {table!r}")
    return table
