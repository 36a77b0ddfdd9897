"""An environment's services on this host, in the deploy's terms: where each
one lives, "expose services" (D1) for one of them, and retiring one.

The order inside `expose` matters: the port is guarded before the server
listens on it, so no local process ever finds it open (isolation.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from shipway.config.model import ServiceConfig
from shipway.environments.data import volume_path
from shipway.services import isolation, servers, standard
from shipway.services.servers import ServiceInstance

ROOT = "services"


def local_instance(home: Path, project: str, environment: str, service: ServiceConfig, *,
                   uid: int, port: int) -> ServiceInstance:
    """`home/services/<project>/<environment>/<name>/`: `data/` (persistent,
    what a new environment clones, E2), `run/` (supervisor), `service.log`.
    Kept apart from the apps' `run/` and `data/` trees, which are listed by
    app name: a service there would pass for an app."""
    root = home / ROOT / project / environment / service.name
    data = volume_path(home, project, environment) / "services" / service.name
    return ServiceInstance(service, data_dir=data, state_dir=root / "run",
                           log=root / "service.log", uid=uid, port=port,
                           store=home / "runtimes")


def passwords(home: Path, project: str, environment: str) -> list[str]:
    """Every password the environment's services were given (kept out of logs)."""
    found = []
    for record in (volume_path(home, project, environment) / "services").glob("*/service.json"):
        try:
            password = json.loads(record.read_text()).get("password")
        except (OSError, ValueError):
            continue
        if isinstance(password, str) and password:
            found.append(password)
    return found


def expose(inst: ServiceInstance, table: str, app_uids: Iterable[int], *,
           timeout: float = 120.0) -> str:
    """Let `app_uids` (and root, and the service itself) in, start the
    prepared server if it is not running as wanted, wait until it accepts
    connections. A line for the activity log."""
    isolation.allow(table, inst.port, {0, inst.uid, *app_uids})
    standard.translate(table, inst.port, inst.kind.engine)
    started = servers.start(inst)
    waited = servers.wait_ready(inst, timeout=timeout)
    state = f"started, ready in {waited:.2f} s" if started else "already running"
    at = f"127.0.0.1:{inst.port}"
    if (std := standard.standard_port(inst.kind.engine)) is not None:
        at += f", {standard.service_address(inst.port)}:{std}"
    return f"{inst.service.name} ({inst.service.type}) on {at}: {state}"


def retire(inst: ServiceInstance, table: str) -> None:
    """Stop the server and stop guarding its port; its data stays."""
    servers.stop(inst)
    standard.untranslate(table, inst.port, inst.kind.engine)
    isolation.forget(table, inst.port)
