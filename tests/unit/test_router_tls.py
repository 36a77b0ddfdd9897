"""T2: which issuer certifies which host, and the policies rendered (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.router.caddyconfig import render
from shipway.router.table import Site, Upstream
from shipway.router.tls import LETS_ENCRYPT, Acme, automation_policies, issuer_for

DEFAULT = Acme()  # SHIPWAY_ACME_CA unset: Let's Encrypt production
CHOSEN = Acme(ca="https://acme.corp.test/dir", ca_root="/r.pem", email="ops@corp.test",
              explicit=True)


@pytest.mark.parametrize(("host", "acme", "issuer"), [
    ("www.example.com", DEFAULT, "acme"),
    ("shop.co.uk", DEFAULT, "acme"),
    ("main-abc.shop.localhost", DEFAULT, "internal"),
    ("localhost", DEFAULT, "internal"),
    ("printer.local", CHOSEN, "internal"),
    ("db.internal", CHOSEN, "internal"),
    ("x.home.arpa", CHOSEN, "internal"),
    ("intranet", CHOSEN, "internal"),
    ("10.1.2.3", CHOSEN, "internal"),
    ("*.example.com", CHOSEN, "internal"),  # wildcards need DNS-01
    ("www.example.test", DEFAULT, "internal"),  # Let's Encrypt would refuse: never asked
    ("www.example.test", CHOSEN, "acme"),  # a private CA (pebble) may issue it
    ("a.example", DEFAULT, "internal"),
    ("www.example.com", None, "internal"),  # ACME switched off
])
def test_issuer_choice_t2(host: str, acme: Acme | None, issuer: str) -> None:
    assert issuer_for(host, acme) == issuer


def test_policies_put_acme_first_with_the_internal_ca_as_fallback_t2() -> None:
    policies = automation_policies(["b.example.com", "a.localhost", "a.example.com"], CHOSEN)
    assert policies == [
        {"subjects": ["a.example.com", "b.example.com"],
         "issuers": [{"module": "acme", "ca": "https://acme.corp.test/dir",
                      "email": "ops@corp.test", "trusted_roots_pem_files": ["/r.pem"]},
                     {"module": "internal"}]},
        {"subjects": ["a.localhost"], "issuers": [{"module": "internal"}]},
    ]
    assert automation_policies(["x.example.com"], DEFAULT)[0]["issuers"][0] == {
        "module": "acme", "ca": LETS_ENCRYPT}


def test_the_demo_renders_no_acme_at_all_t2() -> None:
    sites = [Site("https", "main-x.shop.localhost", "/", Upstream("127.0.0.1:1"))]
    config = render(sites, http_port=80, https_port=443, admin_socket=Path("/a.sock"),
                    storage_dir=Path("/s"), hold_seconds=5, access_log=None, acme=DEFAULT)
    assert "acme" not in str(config)


def test_a_plain_http_acme_directory_is_refused_t2() -> None:
    with pytest.raises(ValueError, match="https://"):
        Acme(ca="http://acme.test/dir")
