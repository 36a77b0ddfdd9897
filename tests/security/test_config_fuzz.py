"""S7 (S1, S5): hostile values in every config key give a clean error or are safely accepted.

Each value is put at each place in an otherwise valid project (written as JSON,
which YAML reads, so any character can be escaped). Loading must end in a
ProjectConfig or a ConfigError whose messages are one printable line each
(a pushed key must not forge lines of the push output) — never another
exception. Accepted paths must be the normalised, inside-the-app form.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shipway.config import load_project
from shipway.config.model import ProjectConfig
from shipway.config.paths import app_path
from shipway.errors import ConfigError

APP = ".platform.app.yaml"
SERVICES = ".platform/services.yaml"
ROUTES = ".platform/routes.yaml"

HOSTILE = [
    "a;rm -rf /", "$(id)`id`", "a|b&c>d<e'\"", "--help", "a b", "",
    "../../../../etc", "/etc/passwd", "..", ".", "{default}", "%2e%2e/x",
    "a\nremote: fake line", "a\rb", "a\x00b", "\x1b[31mred\x7f", "\t",
    "é", "\u202eevil\ufeff", "🙂" * 10, "\ud800", "\U0010ffff",
    "x" * 5000, "/" * 5000, "a/" * 3000,
]
# Too big for a hook argument or an environment variable (128 KiB).
HUGE = "y" * 200_000
HUGE_PLACES = ("app name", "build hook", "env value", "location root", "route key")
NUMBERS = [10**100, -(10**100), 2**63, -1, 0, 1.5e308, float("inf")]


def app(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "app", "type": "python:3.11",
                            "web": {"commands": {"start": "run"}}}
    base.update(extra)
    return base


def web(locations: dict[str, Any]) -> dict[str, Any]:
    return {"commands": {"start": "run"}, "locations": locations}


# place → the files of a project with `v` at that place
PLACES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "app name": lambda v: {APP: app(name=v)},
    "app type": lambda v: {APP: app(type=v)},
    "disk": lambda v: {APP: app(disk=v)},
    "service name": lambda v: {APP: app(), SERVICES: {v: {"type": "redis:7.0"}}},
    "service type": lambda v: {APP: app(), SERVICES: {"db": {"type": v}}},
    "service disk": lambda v: {APP: app(), SERVICES: {"db": {"type": "redis:7.0", "disk": v}}},
    "route key": lambda v: {APP: app(), ROUTES: {v: {"type": "upstream", "upstream": "app:http"}}},
    "route upstream": lambda v: {APP: app(), ROUTES: {"https://{default}/": {
        "type": "upstream", "upstream": v}}},
    "route to": lambda v: {APP: app(), ROUTES: {"https://{default}/": {
        "type": "redirect", "to": v}}},
    "relationship name": lambda v: {APP: app(relationships={v: "db:redis"}),
                                    SERVICES: {"db": {"type": "redis:7.0"}}},
    "relationship service": lambda v: {APP: app(relationships={"r": v})},
    "mount key": lambda v: {APP: app(mounts={v: {"source": "local", "source_path": "d"}})},
    "mount source_path": lambda v: {APP: app(mounts={"d": {"source": "local",
                                                            "source_path": v}})},
    "legacy mount": lambda v: {APP: app(mounts={"d": f"shared:files/{v}"})},
    "location key": lambda v: {APP: app(web=web({v: {"root": "public"}}))},
    "location root": lambda v: {APP: app(web=web({"/": {"root": v}}))},
    "document_root": lambda v: {APP: app(web={"commands": {"start": "run"},
                                              "document_root": v})},
    "index": lambda v: {APP: app(web=web({"/": {"root": "public", "index": [v]}}))},
    "passthru": lambda v: {APP: app(web=web({"/": {"passthru": v}}))},
    "header name": lambda v: {APP: app(web=web({"/": {"root": "p", "headers": {v: "x"}}}))},
    "header value": lambda v: {APP: app(web=web({"/": {"root": "p", "headers": {"X-A": v}}}))},
    "rule pattern": lambda v: {APP: app(web=web({"/": {"root": "p", "rules": {v: {}}}}))},
    "expires": lambda v: {APP: app(web=web({"/": {"root": "p", "expires": v}}))},
    "env name": lambda v: {APP: app(variables={"env": {v: "x"}})},
    "env value": lambda v: {APP: app(variables={"env": {"X": v}})},
    "variable prefix": lambda v: {APP: app(variables={v: {"x": "y"}})},
    "build hook": lambda v: {APP: app(hooks={"build": v})},
    "flavor": lambda v: {APP: app(build={"flavor": v})},
    "source root": lambda v: {APP: app(source={"root": v})},
    "worker name": lambda v: {APP: app(workers={v: {"commands": {"start": "w"}}})},
    "worker disk": lambda v: {APP: app(workers={"w": {"commands": {"start": "w"}, "disk": v}})},
    "cron name": lambda v: {APP: app(crons={v: {"spec": "* * * * *",
                                                "commands": {"start": "c"}}})},
    "cron spec": lambda v: {APP: app(crons={"c": {"spec": v, "commands": {"start": "c"}}})},
    "timezone": lambda v: {APP: app(timezone=v)},
    "dependency": lambda v: {APP: app(dependencies={"python3": {v: "1.0"}})},
    "dependency version": lambda v: {APP: app(dependencies={"python3": {"pkg": v}})},
    "include path": lambda v: {APP: json.dumps(app()).replace(
        '"run"', "!include " + json.dumps({"type": "string", "path": v}))},
}
NUMERIC = ("disk", "service disk", "worker disk", "expires")
PATHS = {"mount key", "mount source_path", "legacy mount", "location root", "document_root",
         "index", "source root"}


def cases() -> list[Any]:
    out = []
    for place in PLACES:
        values = HOSTILE + (NUMBERS if place in NUMERIC else []) + \
            ([HUGE] if place in HUGE_PLACES else [])
        out += [pytest.param(place, v, id=f"{place}-{i}") for i, v in enumerate(values)]
    return out


def yaml_json(content: Any) -> str:
    """JSON with every character escaped, astral ones as YAML's \\U (JSON's
    surrogate pairs are two lone surrogates to YAML)."""
    text = json.dumps(content)
    return _PAIR.sub(lambda m: "\\U%08x" % (0x10000 + ((int(m[1], 16) - 0xD800) << 10)
                                             + int(m[2], 16) - 0xDC00), text)


_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def load(tmp_path: Path, files: dict[str, Any]) -> ProjectConfig | ConfigError:
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        # ensure_ascii: every character escaped, as a pusher could write it in YAML
        text = content if isinstance(content, str) else yaml_json(content)
        path.write_text(text)
    try:
        return load_project(tmp_path)
    except ConfigError as exc:
        return exc


def assert_clean(outcome: ProjectConfig | ConfigError) -> None:
    if isinstance(outcome, ConfigError):
        assert outcome.issues
        for issue in outcome.issues:
            text = str(issue)
            assert text.isprintable(), repr(text[:200])
            assert len(text) <= 1000, text[:200]
            assert "Traceback" not in text


@pytest.mark.parametrize(("place", "value"), cases())
def test_a_hostile_value_gives_a_clean_error_or_a_safe_model(tmp_path, place, value) -> None:
    (tmp_path / "public").mkdir()
    outcome = load(tmp_path, PLACES[place](value))
    assert_clean(outcome)
    if isinstance(outcome, ProjectConfig) and place in PATHS:
        config = outcome.apps[0]
        held = [*config.mounts, *(m.source_path for m in config.mounts.values()),
                config.source_root,
                *(loc.root or "" for loc in config.web.locations.values()),
                *(i for loc in config.web.locations.values() for i in loc.index or ())]
        for path in held:
            assert app_path(path) == path  # normalised, no '..', no control characters


# (id, files, accepted?) — many entities: refused by a cap or accepted, in bounded time.
MANY = [
    ("500 apps", {".platform/applications.yaml": {
        f"a{i}": {"type": "python:3.11", "web": {"commands": {"start": "run"}}}
        for i in range(500)}}),
    ("2,000 routes", {APP: app(), ROUTES: {f"https://r{i}.{{default}}/": {
        "type": "upstream", "upstream": "app:http"} for i in range(2000)}}),
    ("2,000 mounts", {APP: app(mounts={f"m{i}": {"source": "local"} for i in range(2000)})}),
    ("40,000 mounts (1.2 MB)", {APP: app(mounts={f"m{i}": {"source": "local"} for i in range(40_000)})}),
    ("1,000 workers", {APP: app(workers={f"w{i}": {"commands": {"start": "w"}}
                                         for i in range(1000)})}),
    ("5,000 variables", {APP: app(variables={"env": {f"V{i}": "x" for i in range(5000)}})}),
    ("300 upsun files", {f".upsun/f{i}.yaml": {"applications": {f"a{i}": {
        "type": "python:3.11", "web": {"commands": {"start": "run"}}}}} for i in range(300)}),
]


@pytest.mark.parametrize("files", [c[1] for c in MANY], ids=[c[0] for c in MANY])
def test_huge_counts_are_refused_or_accepted_cleanly(tmp_path, files) -> None:
    started = time.monotonic()
    assert_clean(load(tmp_path, files))
    assert time.monotonic() - started < 30  # bounded, not a benchmark
