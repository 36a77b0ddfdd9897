"""Who may open a connection to an app's TCP port (S4), as a value.

An app on `socket_family: tcp` listens on 127.0.0.1, where every local
process could reach it and skip the router (its routes, its TLS, its hold).
So its port is guarded like a service port (services/isolation.py): only
the uids named here get in, everything else gets a reset.

- the router (Caddy), which serves the app's routes;
- root, i.e. the control plane itself (wait_listening, health checks);
- the app's own uid: its hooks, crons and workers often call their own
  `$PORT`;
- the apps that declare a relationship to it (`api: "backend:http"`, from
  their web or worker instances).

Builds are not here: the sandbox firewall (sandbox/firewall.py) already
refuses them every local address. Today all apps of one environment share
a uid, so the kernel cannot tell them apart; the rule is written per app so
that it stays right when each app gets its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shipway.config.model import AppConfig
from shipway.services.relationships import service_consumers

ROOT_UID = 0


def app_port_access(apps: Iterable[AppConfig], ports: Mapping[str, int],
                    uid_of: Mapping[str, int], router_uid: int) -> dict[int, frozenset[int]]:
    """Port → the uids allowed to connect, for the apps of one environment (pure).

    `ports` maps each TCP app to its port (unix-socket apps are absent);
    `uid_of` each app to the uid it runs as."""
    apps = tuple(apps)
    consumers = service_consumers(apps, ports)
    return {
        port: frozenset({ROOT_UID, router_uid, uid_of[name], *(uid_of[c] for c in consumers[name])})
        for name, port in ports.items()
    }
