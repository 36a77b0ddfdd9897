"""The environment volume's disk budget (issue 6: `disk` enforced), from config alone."""

from __future__ import annotations

from pathlib import Path

from shipway.config import load_project
from shipway.environments.data import SERVICE_DISK_MB, disk_budget


def _project(root: Path, app: str, services: str = "") -> Path:
    (root / ".platform").mkdir(parents=True)
    (root / ".platform.app.yaml").write_text(app)
    if services:
        (root / ".platform" / "services.yaml").write_text(services)
    return root


APP = """\
name: app
type: "python:3.11"
disk: 512
web:
  commands:
    start: python3 app.py
"""


def test_apps_workers_and_services_each_count(tmp_path: Path) -> None:
    app = APP + ("workers:\n  queue:\n    commands:\n      start: python3 q.py\n"
                 "  mailer:\n    disk: 256\n    commands:\n      start: python3 m.py\n")
    services = "db:\n  type: postgresql:15\n  disk: 1024\ncache:\n  type: redis:7.0\n"
    config = load_project(_project(tmp_path, app, services))
    # A worker has a disk of its own, the app's unless it says otherwise.
    assert disk_budget(config) == {"app": 512, "app--queue": 512, "app--mailer": 256,
                                   "cache": SERVICE_DISK_MB, "db": 1024}


def test_no_disk_anywhere_means_no_limit(tmp_path: Path) -> None:
    config = load_project(_project(tmp_path, APP.replace("disk: 512\n", "")))
    assert disk_budget(config) == {}
