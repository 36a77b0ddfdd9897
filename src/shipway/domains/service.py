"""`domain:add/list/get/delete` (T1): the registry, then the router.

Adding or removing a domain changes what the router serves and nothing else:
no app is redeployed and no hook runs. `PLATFORM_ROUTES` is part of a
release's environment, computed at deploy; it shows a new domain from the
next deploy on (a redeploy is the user's choice), while the router and `url`
serve and show it at once.
"""

from __future__ import annotations

from typing import Any, Protocol

from shipway.domains.registry import Domain, Domains
from shipway.state.store import Store


class _Platform(Protocol):
    store: Store

    def sync_router(self) -> None: ...


class DomainService:
    def __init__(self, platform: _Platform, registry: Any, platform_domain: str) -> None:
        self._platform = platform
        self._projects = registry  # environments.registry.Registry: a project must exist
        self.domains = Domains(platform.store, platform_domain)

    def add(self, project: str, name: str) -> dict[str, Any]:
        self._projects.project(project)
        domain = self.domains.add(project, name)
        self._platform.sync_router()
        return _json(domain)

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
