"""S4: who may connect to an app's TCP port, from the apps and their relationships."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shipway.config import load_project
from shipway.config.model import AppConfig
from shipway.deploy.reach import app_port_access

ROUTER = 999
# One uid per app here, so that the relationship rule shows; shipway runs all
# apps of one environment as one uid today.
UIDS = {"front": 101, "back": 102, "admin": 103}


def apps(root: Path, yaml: str) -> tuple[AppConfig, ...]:
    for name in UIDS:
        (root / name).mkdir()
    (root / ".platform").mkdir()
    (root / ".platform/applications.yaml").write_text(textwrap.dedent(yaml))
    return load_project(root).apps


def app(name: str, extra: str = "") -> str:
    return (f"- name: {name}\n  type: python:3.11\n  source: {{root: {name}}}\n"
            f"  web: {{commands: {{start: run}}}}\n{extra}")


@pytest.mark.parametrize(
    ("yaml", "ports", "access"),
    [
        # Nobody names `back`: only root, the router and `back` itself get in.
        (app("front") + app("back"), {"front": 10001, "back": 10002},
         {10001: {0, ROUTER, 101}, 10002: {0, ROUTER, 102}}),
        # `front` names `back`: it gets into `back`, not the other way round.
        (app("front", '  relationships: {api: "back:http"}\n') + app("back"),
         {"front": 10001, "back": 10002},
         {10001: {0, ROUTER, 101}, 10002: {0, ROUTER, 101, 102}}),
        # A worker's relationship counts for its app.
        (app("front", "  workers:\n    q:\n      commands: {start: work}\n"
                      '      relationships: {api: "back:http"}\n') + app("back"),
         {"back": 10002}, {10002: {0, ROUTER, 101, 102}}),
        # Two apps name `back`; `admin` is a unix-socket app, with no port to guard.
        (app("front", '  relationships: {api: "back:http"}\n') + app("back")
         + app("admin", '  relationships: {b: "back:http"}\n'),
         {"front": 10001, "back": 10002},
         {10001: {0, ROUTER, 101}, 10002: {0, ROUTER, 101, 102, 103}}),
        # No TCP app: nothing to guard.
        (app("front"), {}, {}),
    ],
)
def test_app_port_access(tmp_path: Path, yaml: str, ports: dict[str, int],
                         access: dict[int, set[int]]) -> None:
    got = app_port_access(apps(tmp_path, yaml), ports, UIDS, ROUTER)
    assert got == {port: frozenset(uids) for port, uids in access.items()}


def test_an_app_of_another_environment_is_never_let_in(tmp_path: Path) -> None:
    config = apps(tmp_path, app("front", '  relationships: {api: "back:http"}\n') + app("back"))
    mine = app_port_access(config, {"back": 10002}, {"front": 101, "back": 101}, ROUTER)
    theirs = app_port_access(config, {"back": 10005}, {"front": 102, "back": 102}, ROUTER)
    assert 102 not in mine[10002] and 101 not in theirs[10005]
