"""`domain:add/list/get/delete` (T1): the registry, then the router.

Adding or removing a domain changes what the router serves and nothing else:
no app is redeployed and no hook runs. `PLATFORM_ROUTES` is part of a
release's environment, computed at deploy; it shows a new domain from the
next deploy on (a redeploy is the user's choice), while the router and `url`
serve and show it at once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from shipway.domains.registry import Domain, Domains
from shipway.router.tls import Acme, issuer_for
from shipway.state.store import Store

# How long `domain:add` waits for an ACME certificate before it answers.
CERTIFICATE_WAIT = 30.0


class _Platform(Protocol):
    store: Store

    def sync_router(self) -> None: ...


class DomainService:
    def __init__(self, platform: _Platform, registry: Any, platform_domain: str,
                 acme: Acme | None = None, storage: Path | None = None,
                 wait: float = CERTIFICATE_WAIT, reserved: frozenset[str] = frozenset()) -> None:
        self._platform = platform
        self._projects = registry  # environments.registry.Registry: a project must exist
        self.domains = Domains(platform.store, platform_domain, reserved)
        self._acme, self._storage, self._wait = acme, storage, wait

    def add(self, project: str, name: str) -> dict[str, Any]:
        self._projects.project(project)
        domain = self.domains.add(project, name)
        self._platform.sync_router()
        return _json(domain) | {"certificate": self._certificate(domain.name)}

    def _certificate(self, name: str) -> dict[str, Any]:
        """T2: which CA certified `name`, waiting a while for an ACME certificate."""
        if issuer_for(name, self._acme) == "internal" or self._storage is None:
            return {"issuer": "internal", "note": "a private name: the router's internal CA"}
        deadline = time.monotonic() + self._wait
        while True:
            issuer = stored_issuer(self._storage, name)
            if issuer == "acme":
                return {"issuer": "acme", "note": "certificate issued by the ACME CA"}
            if issuer == "internal" or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        if issuer == "internal":
            note = (f"the ACME CA did not issue a certificate for {name} (the router's log, "
                    "caddy.log, says why); it is served with the internal CA meanwhile and the "
                    "router keeps trying")
        else:
            note = (f"no certificate for {name} yet: production must be deployed with a route "
                    "on this domain ({default}, {all} or the name itself); the router asks the "
                    "ACME CA as soon as it serves it")
        return {"issuer": issuer, "note": note}

    def list(self, project: str) -> list[dict[str, Any]]:
        self._projects.project(project)
        return [_json(d) for d in self.domains.list(project)]

    def get(self, project: str, name: str) -> dict[str, Any]:
        self._projects.project(project)
        return _json(self.domains.get(project, name))

    def delete(self, project: str, name: str) -> dict[str, Any]:
        self._projects.project(project)
        domain = self.domains.delete(project, name)
        self._platform.sync_router()
        return _json(domain)


def _json(domain: Domain) -> dict[str, Any]:
    return {"name": domain.name, "project": domain.project, "created_at": domain.created_at,
            "is_default": domain.is_default}


def stored_issuer(storage: Path, host: str) -> str | None:
    """Who issued the certificate Caddy keeps for `host`: "acme", "internal"
    (Caddy's storage names its internal CA "local") or None (none yet)."""
    found = {crt.parent.parent.name for crt in (storage / "certificates").glob(f"*/{host}/{host}.crt")}
    if found - {"local"}:
        return "acme"
    return "internal" if found else None
