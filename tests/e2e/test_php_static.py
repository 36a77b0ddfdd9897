"""C7: static-only apps (issue 12): no start command, or one that only sleeps,
and no passthru. The router serves the artifact; nothing waits for a port."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import Shipway, make_repo, push

pytestmark = pytest.mark.e2e

# pelican's shape: the build writes output/, the start only sleeps.
PELICAN_LIKE = """\
name: app
type: "python:3.11"
hooks:
  build: |
    mkdir -p output/posts
    echo '<h1>built site</h1>' > output/index.html
    echo 'first post' > output/posts/first.html
web:
  commands:
    start: sleep infinity
  locations:
    "/":
      root: "output"
      index: ["index.html"]
      expires: 10m
"""
# gatsby's shape: no start command at all.
NO_START = """\
name: app
type: "nodejs:18"
web:
  locations:
    "/":
      root: "public"
      index: ["index.html"]
      scripts: false
      allow: true
"""
ROUTES = '"https://{default}/":\n  type: upstream\n  upstream: "app:http"\n'


def _repo(path: Path, app_yaml: str, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    (path / ".platform").mkdir()
    (path / ".platform" / "routes.yaml").write_text(ROUTES)
    (path / ".platform" / "services.yaml").write_text("{}\n")
    (path / ".platform.app.yaml").write_text(app_yaml)
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    return make_repo(path)


@pytest.mark.parametrize(("name", "app_yaml", "files"), [
    ("pelican", PELICAN_LIKE, {}),
    ("gatsby", NO_START, {"public/index.html": "<h1>built site</h1>\n",
                          "public/posts/first.html": "first post\n"}),
])
def test_c7_a_static_only_app_deploys_at_once_and_is_served(
        shipway: Shipway, tmp_path: Path, name: str, app_yaml: str, files: dict[str, str]) -> None:
    remote = shipway.create_project(name)
    repo = _repo(tmp_path / "repo", app_yaml, files)
    started = time.monotonic()
    out = push(repo, remote)
    took = time.monotonic() - started
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "did not listen" not in log and took < 45, (took, log)  # no wait for $PORT
    url = shipway.url(name).rstrip("/")
    assert shipway.fetch(url + "/") == (200, "<h1>built site</h1>\n")
    assert shipway.fetch(url + "/posts/first.html") == (200, "first post\n")
    code, _ = shipway.fetch(url + "/missing")
    assert code == 404  # no passthru: nothing is asked of an app
    started = time.monotonic()
    assert shipway.fetch(url + "/posts/missing.html")[0] == 404
    assert time.monotonic() - started < 1  # answered at once, not after an upstream retry
    # Nothing was started for the web: a static app has no process to keep up.
    assert not (shipway.home / "run" / name / "main" / "app" / "web" / "spec.json").exists()
