"""TCP ports for `socket_family: tcp` apps: one per app per environment, kept."""

from __future__ import annotations

import socket

from shipway.errors import PlatformError
from shipway.ranges import PORTS_PER_INSTANCE
from shipway.state.store import Store


def allocate_port(store: Store, project: str, environment: str, app: str, base: int) -> int:
    with store.transaction() as db:
        row = db.execute(
            "SELECT port FROM ports WHERE project = ? AND environment = ? AND app = ?",
            (project, environment, app),
        ).fetchone()
        if row:
            return int(row["port"])
        taken = {r["port"] for r in db.execute("SELECT port FROM ports").fetchall()}
        for port in range(base, base + PORTS_PER_INSTANCE):
            if port not in taken and _free(port):
                db.execute("INSERT INTO ports VALUES (?, ?, ?, ?)", (port, project, environment, app))
                return port
    raise PlatformError(f"no free TCP port left in {base}-{base + PORTS_PER_INSTANCE - 1} for app "
                        f"{app}; set SHIPWAY_PORT_BASE to a free range")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
