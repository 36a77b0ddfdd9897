"""Which certificate issuer serves which host (T2). Pure.

Public names get certificates from an ACME CA (Let's Encrypt's production
directory unless `SHIPWAY_ACME_CA` names another), with the router's
internal CA as the fallback issuer: a name the ACME CA refuses is still
served, with an internal certificate, and Caddy keeps retrying ACME and
renews what it got. Private names never reach an ACME CA: `localhost` and
its sub-domains, `.local`, `.internal`, `.invalid`, `.home.arpa`, `.lan`,
single labels, IP addresses and wildcards (ACME issues those only over
DNS-01, which shipway does not drive). The reserved testing names `.test`
and `.example` go to ACME only when `SHIPWAY_ACME_CA` was set on purpose
(a private ACME server such as pebble can issue them; Let's Encrypt never
would, so the demo reaches no CA at all).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
PRIVATE_SUFFIXES = ("localhost", "local", "internal", "invalid", "home.arpa", "lan")
TESTING_SUFFIXES = ("test", "example")

JSON = dict[str, Any]


@dataclass(frozen=True)
class Acme:
    """The ACME CA public names are certified by."""

    ca: str = LETS_ENCRYPT
    ca_root: str | None = None  # a PEM file trusted for the CA's own HTTPS (private CAs)
    email: str | None = None
    explicit: bool = False  # the CA was chosen (SHIPWAY_ACME_CA), not the default

    def __post_init__(self) -> None:
        if not self.ca.startswith("https://"):
            raise ValueError(f"SHIPWAY_ACME_CA must be an https:// directory URL, not {self.ca!r}")


def _under(host: str, suffixes: tuple[str, ...]) -> bool:
    return any(host == s or host.endswith("." + s) for s in suffixes)


def issuer_for(host: str, acme: Acme | None) -> Literal["acme", "internal"]:
    host = host.lower().rstrip(".")
    if acme is None or host.startswith("*.") or "." not in host or _under(host, PRIVATE_SUFFIXES):
        return "internal"
    try:
        ipaddress.ip_address(host)
        return "internal"
    except ValueError:
        pass
    if _under(host, TESTING_SUFFIXES) and not acme.explicit:
        return "internal"
    return "acme"


def automation_policies(hosts: Iterable[str], acme: Acme | None) -> list[JSON]:
    """Caddy's `tls.automation.policies` for `hosts` (sorted, so equal tables render equal)."""
    chosen: dict[str, list[str]] = {"acme": [], "internal": []}
    for host in sorted(set(hosts)):
        chosen[issuer_for(host, acme)].append(host)
    internal: JSON = {"module": "internal"}
    policies = []
    if chosen["acme"] and acme is not None:
        policies.append({"subjects": chosen["acme"], "issuers": [_acme_issuer(acme), internal]})
    if chosen["internal"]:
        policies.append({"subjects": chosen["internal"], "issuers": [internal]})
    return policies


def _acme_issuer(acme: Acme) -> JSON:
    issuer: JSON = {"module": "acme", "ca": acme.ca}
    if acme.email:
        issuer["email"] = acme.email
    if acme.ca_root:
        issuer["trusted_roots_pem_files"] = [acme.ca_root]
    return issuer
