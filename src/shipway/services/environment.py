"""One environment's services, as the deploy uses them (D4).

`prepare` runs before any app launch is computed (apps need the ports and
passwords); `expose` is the deploy's "expose services" step; `app_view` is
what one app process sees: PLATFORM_RELATIONSHIPS, the `<REL>_*` variables
and an /etc/hosts naming `<relationship>.internal`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.config.model import AppConfig, ProjectConfig
from shipway.sandbox.spec import Bind
from shipway.services import servers
from shipway.services.local import expose, local_instance, retire
from shipway.services.relationships import (
    AppEndpoint,
    Endpoint,
    host_addresses,
    hosts_file,
    relationships_document,
    service_consumers,
    service_variables,
)
from shipway.services.servers import ServiceInstance


@dataclass(frozen=True)
class AppServices:
    relationships: dict[str, Any]
    variables: dict[str, str]
    hosts_bind: Bind


def instances(home: Path, project: str, environment: str, config: ProjectConfig, *, uid: int,
              port_for: Callable[[str], int]) -> dict[str, ServiceInstance]:
    return {
        name: local_instance(home, project, environment, service, uid=uid, port=port_for(name))
        for name, service in sorted(config.services.items())
    }


def prepare(found: Mapping[str, ServiceInstance], *, nearest: bool
            ) -> tuple[dict[str, Endpoint], list[str]]:
    """Directories, credentials, first initialisation; the warnings say what `nearest` chose."""
    endpoints, warnings = {}, []
    for name, inst in found.items():
        prepared = servers.prepare(inst, nearest=nearest)
        endpoints[name] = prepared.endpoint
        warnings.extend(prepared.warnings)
    return endpoints, warnings


def expose_all(found: Mapping[str, ServiceInstance], config: ProjectConfig, table: str,
               app_uid: int) -> list[str]:
    """Start what is not running; only environments whose apps name a service reach it."""
    consumers = service_consumers(config.apps, config.services)
    return [expose(inst, table, [app_uid] if consumers.get(name) else [])
            for name, inst in found.items()]


def retire_all(found: Mapping[str, ServiceInstance], table: str) -> None:
    for inst in found.values():
        retire(inst, table)


def app_view(app: AppConfig, config: ProjectConfig, endpoints: Mapping[str, Endpoint], *,
             cluster: str, hosts_path: Path, apps: Mapping[str, AppEndpoint] | None = None
             ) -> AppServices:
    doc = relationships_document(app.relationships, config.services, endpoints, cluster=cluster,
                                 apps=apps)
    hosts_path.parent.mkdir(parents=True, exist_ok=True)
    hosts_path.write_text(hosts_file(host_addresses(doc), base=Path("/etc/hosts").read_text()))
    hosts_path.chmod(0o644)  # the app's uid reads it as /etc/hosts; the umask (077) would not let it
    return AppServices(doc, service_variables(doc), Bind(hosts_path, "/etc/hosts"))
