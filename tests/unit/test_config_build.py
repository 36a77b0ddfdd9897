"""What changes the build key and what does not (reference §3.1, §4.4, §5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipway.config import AppConfig, load_project

BASE = """\
name: app
type: python:3.11
disk: 512
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


def load(root: Path, text: str) -> AppConfig:
    (root / ".platform").mkdir(exist_ok=True)
    (root / ".platform/services.yaml").write_text(SERVICES)
    (root / ".platform.app.yaml").write_text(text)
    return load_project(root).app("app")


def key(app: AppConfig) -> str:
    return json.dumps(app.build_relevant(), sort_keys=True)


# (id, replace this, with that, does the build key change?)
CASES = [
    ("deploy hook", "deploy: migrate", "deploy: other", False),
    ("post_deploy hook", "post_deploy: warm", "post_deploy: other", False),
    ("relationships", "db: 'db:postgresql'", "db: 'other:postgresql'", False),
    ("web start", "start: gunicorn}", "start: uvicorn}", False),
    ("web locations", "passthru: true", "passthru: false", False),
    ("worker start", "start: worker", "start: other", False),
    ("crons", "spec: '@daily'", "spec: '@hourly'", False),
    ("access", "ssh: admin", "ssh: viewer", False),
    ("build hook", "build: pip install .", "build: pip install -e .", True),
    ("type", "python:3.11", "python:3.12", True),
    ("disk", "disk: 512", "disk: 1024", True),
    ("mounts", "logs: {source: local}", "logs: {source: tmp}", True),
    ("variables", "A: '1'", "A: '2'", True),
    ("flavor", "name: app\n", "name: app\nbuild: {flavor: default}\n", False),
    ("dependencies", "name: app\n", "name: app\ndependencies: {python3: {poetry: '*'}}\n", True),
    ("worker mounts", "start: worker}", "start: worker}\n    mounts: {w: {source: tmp}}", True),
    ("legacy form of the same mount", "logs: {source: local}", "/logs/: 'shared:files/logs'",
     False),
]


@pytest.mark.parametrize(("old", "new", "changes"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_build_key(tmp_path: Path, old: str, new: str, changes: bool) -> None:
    assert old in BASE
    before = key(load(tmp_path, BASE))
    after = key(load(tmp_path, BASE.replace(old, new)))
    assert (before != after) is changes


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
