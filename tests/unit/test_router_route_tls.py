"""T2: a route's `tls` key → the router's TLS connection policies and HSTS (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipway.router.caddyconfig import connection_policies, render
from shipway.router.plan import tls_options
from shipway.router.table import Site, TlsOptions, Upstream

PEM = "-----BEGIN CERTIFICATE-----\nTUlJQg==\nAAAA\n-----END CERTIFICATE-----\n"
UP = Upstream("127.0.0.1:1")


@pytest.mark.parametrize(("written", "options"), [
    ({}, None),
    ({"strict_transport_security": {"enabled": False}}, None),
    ({"min_version": "TLSv1.3"}, TlsOptions(min_version="tls1.3")),
    ({"min_version": "TLSv1.0"}, TlsOptions(min_version="tls1.2")),  # Caddy's floor is 1.2
    ({"strict_transport_security": {"enabled": True, "include_subdomains": True}},
     TlsOptions(hsts=True, hsts_subdomains=True)),
    ({"client_authentication": "require", "client_certificate_authorities": [PEM]},
     TlsOptions(client_auth="require", client_cas=(PEM,))),
])
def test_route_tls_key_t2(written: dict[str, Any], options: TlsOptions | None) -> None:
    assert tls_options(written) == options


def test_connection_policies_by_sni_then_the_default_t2() -> None:
    strict = TlsOptions(min_version="tls1.3")
    sites = [Site("https", "b.test", "/", UP, tls=strict), Site("https", "a.test", "/", UP, tls=strict),
             Site("https", "c.test", "/", UP, tls=TlsOptions(client_auth="require", client_cas=(PEM,))),
             Site("https", "d.test", "/", UP, tls=TlsOptions(client_auth="request")),
             Site("https", "e.test", "/", UP, tls=TlsOptions(hsts=True)),  # no handshake change
             Site("https", "f.test", "/", UP)]
    assert connection_policies(sites) == [
        {"protocol_min": "tls1.3", "match": {"sni": ["a.test", "b.test"]}},
        {"client_authentication": {"mode": "require_and_verify",
                                   "ca": {"provider": "inline", "trusted_ca_certs": ["TUlJQg==AAAA"]}},
         "match": {"sni": ["c.test"]}},
        {"client_authentication": {"mode": "request"}, "match": {"sni": ["d.test"]}},
        {},
    ]


def test_hsts_header_on_the_https_site_only_t2() -> None:
    tls = TlsOptions(hsts=True, hsts_subdomains=True, hsts_preload=True)
    config = render([Site("https", "a.test", "/", UP, tls=tls)], http_port=80, https_port=443,
                    admin_socket=Path("/a.sock"), storage_dir=Path("/s"), hold_seconds=5,
                    access_log=None)
    first = config["apps"]["http"]["servers"]["https"]["routes"][0]["handle"][0]
    assert first == {"handler": "headers", "response": {"set": {
        "Strict-Transport-Security": ["max-age=31536000; includeSubDomains; preload"]}}}


@pytest.mark.parametrize("bad", [
    lambda: TlsOptions(min_version="tls1.0"),
    lambda: TlsOptions(client_cas=("not a certificate",)),
    lambda: TlsOptions(client_cas=(PEM.replace("AAAA", "{env.SECRET}"),)),
    lambda: Site("http", "a.test", "/", UP, tls=TlsOptions(hsts=True)),
])
def test_invalid_tls_options_are_refused_t2(bad: Any) -> None:
    with pytest.raises(ValueError):
        bad()
