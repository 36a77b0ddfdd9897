"""Which names a project may claim as a domain (T1). Pure.

A domain is a lowercase DNS host name (RFC 1035 letters, digits, hyphens;
punycode for the rest), at most 253 characters and 63 per label, with at
least two labels. Refused outright: wildcards (not supported yet), IP
addresses, `localhost`, and any name under the platform's own domain
(`SHIPWAY_DOMAIN`), and the platform's own names (the console's
host, SHIPWAY_CONSOLE_HOST, W1): generated environment hosts live there, and a project
that claimed `main-x.other.localhost` would take another project's site.
"""

from __future__ import annotations

import ipaddress
import re

from shipway.errors import NotSupportedYet, UsageError

MAX_NAME = 253
MAX_LABEL = 63
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def check_domain(raw: str, platform_domain: str, reserved: frozenset[str] = frozenset()) -> str:
    """The name as stored (lowercase, no trailing dot), or UsageError saying why not."""
    name = raw.strip().lower()
    name = name[:-1] if name.endswith(".") else name
    shown = repr(raw[:80] + ("…" if len(raw) > 80 else ""))
    if "*" in name:
        raise NotSupportedYet(f"domain {shown}: wildcard domains are not supported yet; add each "
                              "host name (www.example.com, api.example.com) on its own")
    if len(name) > MAX_NAME:
        raise UsageError(f"domain {shown} is longer than {MAX_NAME} characters")
    labels = name.split(".")
    if len(labels) < 2:
        raise UsageError(f"domain {shown} needs at least two labels, e.g. 'example.com'")
    for label in labels:
        if len(label) > MAX_LABEL or not _LABEL.fullmatch(label):
            raise UsageError(f"domain {shown}: {label[:70]!r} is not a valid DNS label (letters, "
                             f"digits and inner hyphens, at most {MAX_LABEL} characters; "
                             "punycode for other scripts)")
    _check_reserved(name, shown, platform_domain.lower().strip("."))
    if name in reserved:
        raise UsageError(f"domain {shown} is the platform's own (the console's host, "
                         "SHIPWAY_CONSOLE_HOST) and cannot be claimed")
    return name


def _check_reserved(name: str, shown: str, platform_domain: str) -> None:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise UsageError(f"domain {shown} is an IP address, not a host name")
    if name == "localhost" or name.endswith(".localhost"):
        raise UsageError(f"domain {shown}: names under 'localhost' are the platform's generated "
                         "hosts and cannot be claimed")
    if name == platform_domain or name.endswith("." + platform_domain):
        raise UsageError(f"domain {shown} is under the platform's own domain "
                         f"({platform_domain!r}), where environments get their generated hosts")
