"""B2: what changes the build key (reference §3.1, §4.4, §5), and why a build was not reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipway.build.key import BuildInputs, rebuild_reasons
from shipway.config import AppConfig, load_project

BASE = """\
name: app
type: python:3.11
disk: 512
dependencies:
  python3: {poetry: '*'}
relationships:
  db: 'db:postgresql'
mounts:
  logs: {source: local}
variables:
  env: {A: '1'}
hooks:
  build: pip install .
  deploy: migrate
  post_deploy: warm
web:
  commands: {start: gunicorn}
  locations:
    /: {passthru: true}
workers:
  queue:
    commands: {start: worker}
crons:
  c: {spec: '@daily', commands: {start: x}}
access:
  ssh: admin
"""
SERVICES = "db: {type: 'postgresql:15'}\nother: {type: 'postgresql:15'}\n"
TREE = "a" * 40
VARS = {"env:REBUILD_DATE": "monday", "app:token": "x"}


def load(root: Path, text: str) -> AppConfig:
    (root / ".platform").mkdir(exist_ok=True)
    (root / ".platform/services.yaml").write_text(SERVICES)
    (root / ".platform.app.yaml").write_text(text)
    return load_project(root).app("app")


def inputs(app: AppConfig, tree: str = TREE, variables: dict[str, str] | None = None) -> BuildInputs:
    return BuildInputs(app.name, tree, app.build_relevant(), VARS if variables is None else variables)


# (id, replace this in BASE, with that, the reasons given; [] = same key, reused)
CONFIG_CASES = [
    ("deploy hook", "deploy: migrate", "deploy: other", []),
    ("post_deploy hook", "post_deploy: warm", "post_deploy: other", []),
    ("relationships", "db: 'db:postgresql'", "db: 'other:postgresql'", []),
    ("web start", "start: gunicorn}", "start: uvicorn}", []),
    ("web locations", "passthru: true", "passthru: false", []),
    ("workers", "start: worker", "start: other", []),
    ("crons", "spec: '@daily'", "spec: '@hourly'", []),
    ("build hook", "build: pip install .", "build: pip install -e .", ["hooks.build changed"]),
    ("type", "python:3.11", "python:3.12", ["type changed"]),
    ("disk", "disk: 512", "disk: 1024", ["disk changed"]),
    ("mounts", "logs: {source: local}", "logs: {source: tmp}", ["mounts.logs changed"]),
    ("app variable", "A: '1'", "A: '2'", ["variables.env changed"]),
    ("dependencies", "poetry: '*'", "poetry: '1.8'", ["dependencies.python3 changed"]),
    ("two at once", "python:3.11\ndisk: 512", "python:3.12\ndisk: 1024", ["disk changed", "type changed"]),
    ("access", "ssh: admin", "ssh: viewer", []),
    ("flavor written as its default", "name: app\n", "name: app\nbuild: {flavor: default}\n", []),
    ("dependencies removed", "dependencies:\n  python3: {poetry: '*'}\n", "",
     ["dependencies changed", "dependencies.python3 changed"]),
    ("worker mounts", "start: worker}", "start: worker}\n    mounts: {w: {source: tmp}}",
     ["workers.queue changed"]),
    ("legacy form of the same mount", "logs: {source: local}", "/logs/: 'shared:files/logs'", []),
]


@pytest.mark.parametrize(("old", "new", "reasons"), [c[1:] for c in CONFIG_CASES],
                         ids=[c[0] for c in CONFIG_CASES])
def test_b2_config_changes(tmp_path: Path, old: str, new: str, reasons: list[str]) -> None:
    assert old in BASE
    before = inputs(load(tmp_path, BASE))
    after = inputs(load(tmp_path, BASE.replace(old, new)))
    assert (before.key != after.key) is bool(reasons)
    if reasons:
        assert rebuild_reasons(before.as_json(), after) == reasons


# (id, variables after the change, the reasons given)
VARIABLE_CASES = [
    ("REBUILD_DATE updated", {**VARS, "env:REBUILD_DATE": "tuesday"}, ["variable env:REBUILD_DATE changed"]),
    ("variable added", {**VARS, "env:NEW": "1"}, ["variable env:NEW changed"]),
    ("variable removed", {"env:REBUILD_DATE": "monday"}, ["variable app:token changed"]),
    ("same values, other order", dict(reversed(VARS.items())), []),
]


@pytest.mark.parametrize(("variables", "reasons"), [c[1:] for c in VARIABLE_CASES],
                         ids=[c[0] for c in VARIABLE_CASES])
def test_b2_build_visible_variables(tmp_path: Path, variables: dict[str, str], reasons: list[str]) -> None:
    app = load(tmp_path, BASE)
    before, after = inputs(app), inputs(app, variables=variables)
    assert (before.key != after.key) is bool(reasons)
    if reasons:
        assert rebuild_reasons(before.as_json(), after) == reasons


def test_b2_source_tree_change(tmp_path: Path) -> None:
    app = load(tmp_path, BASE)
    before, after = inputs(app), inputs(app, tree="b" * 40)
    assert before.key != after.key
    assert rebuild_reasons(before.as_json(), after) == ["source tree changed"]


def test_b2_everything_at_once_is_listed_in_order(tmp_path: Path) -> None:
    before = inputs(load(tmp_path, BASE))
    after = inputs(load(tmp_path, BASE.replace("pip install .", "make")), tree="b" * 40,
                   variables={**VARS, "env:REBUILD_DATE": "later"})
    assert rebuild_reasons(before.as_json(), after) == [
        "source tree changed", "hooks.build changed", "variable env:REBUILD_DATE changed",
    ]


def test_b2_first_build_and_unexplained_difference(tmp_path: Path) -> None:
    current = inputs(load(tmp_path, BASE))
    assert rebuild_reasons(None, current) == ["first build of this app"]
    assert rebuild_reasons(current.as_json(), current) == ["build format changed"]


def test_b2_variable_values_are_not_kept_in_the_inputs(tmp_path: Path) -> None:
    recorded = inputs(load(tmp_path, BASE)).as_json()
    assert "monday" not in str(recorded)  # values may be sensitive; digests only
    assert recorded["variables"] == sorted(VARS)


def test_b2_key_depends_on_app_name(tmp_path: Path) -> None:
    app = load(tmp_path, BASE)
    same = BuildInputs("other", TREE, app.build_relevant(), VARS)
    assert inputs(app).key != same.key


def test_build_time_application_leaves_out_runtime_keys(tmp_path: Path) -> None:
    app = load(tmp_path, BASE.replace("start: worker}", "start: worker}\n    mounts: {}"))
    build = app.platform_application(build_time=True)
    assert build == app.build_relevant()
    assert "web" not in build and "crons" not in build and "access" not in build
    assert "relationships" not in build
    assert build["hooks"] == {"build": "pip install ."}
    assert build["workers"] == {"queue": {"mounts": {}}}
    runtime = app.platform_application(build_time=False)
    assert runtime["hooks"]["deploy"] == "migrate"
    assert runtime["relationships"] == {"db": {"service": "db", "endpoint": "postgresql"}}
    assert runtime["access"] == {"ssh": "admin"}


def test_build_relevant_is_json(tmp_path: Path) -> None:
    app = load(tmp_path, BASE)
    assert json.loads(json.dumps(app.build_relevant())) == app.build_relevant()
    assert json.loads(json.dumps(app.platform_application(False))) == \
        app.platform_application(False)
