"""S2: symlinks under a location's root that lead out of it are found (links.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.artifacts.links import Link, served_links


@pytest.fixture
def app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    for sub in ("static/css", "venv/bin", "other"):
        (app / sub).mkdir(parents=True)
    (app / "static/css/v2.css").write_text("x")
    (app / "other/secret").write_text("x")
    (app / "venv/bin/python").symlink_to("/usr/bin/python3")
    return app


CASES = [
    ("static/passwd", "/etc/passwd", True),
    ("static/db", "/var/lib/shipway/state/shipway.db", True),
    ("static/up", "../other/secret", True),
    ("static/css/up2", "../../other", True),
    ("static/py", "../venv/bin/python", True),  # inside the app, but leads on out of it
    ("static/latest.css", "css/v2.css", False),
    ("static/css/self", "../css", False),
    ("static/dangling", "css/none.css", False),
    ("static/css/dot", ".", False),
]


@pytest.mark.parametrize(("path", "target", "escapes"), CASES)
def test_each_link_under_a_root(app: Path, path: str, target: str, escapes: bool) -> None:
    (app / path).symlink_to(target)
    assert served_links(app, ["static"]) == [Link(path, target, escapes)]


def test_links_outside_every_root_and_under_the_app_root_are_left_alone(app: Path) -> None:
    (app / "other/passwd").symlink_to("/etc/passwd")
    assert served_links(app, ["static", "", "/"]) == []


def test_a_root_that_is_itself_a_link_or_passes_through_one(app: Path) -> None:
    (app / "public").symlink_to("/etc")
    (app / "web").symlink_to("static")
    assert served_links(app, ["public", "/web/css/", "public/deep"]) == [
        Link("public", "/etc", True), Link("web", "static", True)]


def test_a_link_seen_from_two_nested_roots_is_named_once(app: Path) -> None:
    (app / "static/css/out").symlink_to("/etc")
    assert served_links(app, ["static", "static/css"]) == [Link("static/css/out", "/etc", True)]


def test_a_link_leaving_the_inner_of_two_nested_roots_escapes(app: Path) -> None:
    (app / "static/css/up").symlink_to("../latest.css")
    assert served_links(app, ["static", "static/css"]) == [Link("static/css/up", "../latest.css", True)]
