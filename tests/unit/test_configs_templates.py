"""Must-hold 3/5: the configuration of public Platform.sh/Upsun templates
(vendored under tests/fixtures/templates, comments stripped, no code) loads
with default settings, and the pure decisions made on it — which
configuration, which runtimes, which service versions under the default
`nearest` policy — are the ones docs/templates.md reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.config import load_project
from shipway.services.kinds import kind_of
from shipway.services.versions import choose_version

TEMPLATES = Path(__file__).parent.parent / "fixtures" / "templates"
# What Debian 12 installs, and the PostgreSQL majors the npm registry gives (C11).
HOST = {"postgresql": ("10", "11", "12", "13", "14", "15", "16", "17", "18"),
        "mariadb": ("10.11.19",), "redis": ("7.0.15",), "memcached": ("1.6.18",)}

# template -> (runtimes of each app, service -> version that runs it)
EXPECTED = {
    "pelican": ({"app": ("python:3.8",)}, {}),
    "pyramid": ({"app": ("python:3.9",)}, {"db": "10.11.19", "cache": "7.0.15"}),
    "django3": ({"app": ("python:3.10",)}, {"db": "12"}),
    "fastapi": ({"app": ("python:3.11",)}, {"db": "10.11.19", "cache": "7.0.15"}),
    "python3": ({"app": ("python:3.8",)}, {"db": "10.11.19", "cache": "7.0.15"}),
    "nuxtjs": ({"app": ("nodejs:20",)}, {}),
    "flask": ({"flask": ("python:3.10",)}, {"db": "10.11.19", "cache": "7.0.15"}),
    "wagtail": ({"app": ("python:3.11",)}, {"dbpostgres": "12"}),
    "nextjs": ({"app": ("nodejs:18",)}, {}),
    "strapi4": ({"app": ("nodejs:20",)}, {"dbpostgres": "12"}),
    "directus": ({"directus": ("nodejs:18",)}, {"db": "12", "cacheredis": "7.0.15",
                                                "ratelimitredis": "7.0.15"}),
    "golang": ({"app": ("golang:1.22",)}, {"database": "10.11.19"}),  # .upsun/ of both (C10)
    "gregqualls-upsun-demo-app": ({"api-gateway": ("python:3.11",), "frontend": ("nodejs:20",)}, {}),
    "laravel": ({"app": ("php:8.0",)}, {"db": "10.11.19", "cache": "7.0.15"}),
    "wordpress-composer": ({"app": ("php:8.1",)}, {"db": "10.11.19"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_template_config_loads_with_default_settings(name: str) -> None:
    runtimes, services = EXPECTED[name]
    config = load_project(TEMPLATES / name)
    found = {app.name: app.stack or (app.type,) for app in config.apps}
    assert {k: found[k] for k in runtimes} == runtimes
    chosen = {n: choose_version(kind_of(s.kind), s.version, HOST[kind_of(s.kind).engine],
                                nearest=True).version for n, s in config.services.items()}
    assert chosen == services


def test_golang_ships_both_and_deploys_upsun() -> None:
    config = load_project(TEMPLATES / "golang")
    assert config.flavour == "upsun" and any("both .platform" in str(w) for w in config.warnings)


def test_wordpress_vanilla_rule_has_look_behind_and_loads() -> None:
    (app,) = load_project(TEMPLATES / "wordpress-vanilla").apps
    rules = [r for loc in app.web.locations.values() for r in loc.rules]
    assert any("(?<!" in r for r in rules), rules


def test_upsun_demo_js_stack_parses() -> None:
    """Its bare `- deno` is a runtime; its static-only main app (no start) is C7's."""
    from shipway.config.stack import parse_stack
    assert parse_stack(["deno"]).primary.type == "deno:2"
    assert parse_stack(["nodejs@22", "nodePackages.npm"]).packages == ("nodePackages.npm",)
