"""Must-hold 3 of issue 12 (C7, C10, C11): platformsh-templates/pelican's own
configuration (tests/fixtures/templates/pelican: `.platform.app.yaml`, routes,
services, Pipfile and Pipfile.lock, verbatim but for comments) deploys with the
default settings and the router serves the page its build generated. The site's
content and Pelican settings are a small stand-in written here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import Shipway, make_repo, push

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parents[1] / "fixtures" / "templates" / "pelican"
SETTINGS = """\
AUTHOR = 'shipway'
SITENAME = 'Stand-in Pelican site'
SITEURL = ''
PATH = 'content'
TIMEZONE = 'UTC'
DEFAULT_LANG = 'en'
FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
DEFAULT_PAGINATION = False
"""
POST = """\
Title: Hello from shipway
Date: 2026-12-01
Category: General

A post that only the build turns into HTML.
"""


def _repo(path: Path) -> Path:
    shutil.copytree(FIXTURE, path)
    (path / "pelicanconf.py").write_text(SETTINGS)
    (path / "content").mkdir()
    (path / "content" / "hello.md").write_text(POST)
    return make_repo(path)


def test_must_hold_3_pelican_deploys_unchanged_and_serves(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("pelican")
    out = push(_repo(tmp_path / "pelican"), remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    url = shipway.url("pelican").rstrip("/")
    code, body = shipway.fetch(url + "/")
    assert code == 200, body[-2000:]
    assert "Stand-in Pelican site" in body and "Hello from shipway" in body, body[-2000:]
    code, body = shipway.fetch(url + "/hello-from-shipway.html")
    assert code == 200 and "only the build turns into HTML" in body, body[-2000:]
    code, body = shipway.fetch(url + "/theme/css/main.css")  # a rule allows .css
    assert code == 200 and "{" in body
    code, _ = shipway.fetch(url + "/robots.txt")  # allowed by a rule, but not generated
    assert code == 404
