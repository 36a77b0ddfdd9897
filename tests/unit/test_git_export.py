"""S2: root reads a pushed tree's config; no symlink in it leads root out of it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from shipway.git.repos import GitObjects

LINKS = {"passwd": "/etc/passwd", "up": "../../../../etc/passwd", "dotdot": "sub/../../x",
         "inside": "file.txt", "chain": "inside", "sub/back": "../file.txt"}


@pytest.fixture
def repo(tmp_path: Path) -> tuple[GitObjects, str]:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "file.txt").write_text("hello\n")
    for name, target in LINKS.items():
        os.symlink(target, work / name)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "links"]):
        subprocess.run(["git", "-C", str(work), *argv], check=True, env=env)
    head = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    return GitObjects(work / ".git"), head


def test_links_leading_out_are_left_out_for_config_reading(repo: tuple[GitObjects, str],
                                                           tmp_path: Path) -> None:
    objects, head = repo
    dest = tmp_path / "config"
    dest.mkdir()
    assert objects.export(head, dest, links_inside=True) == ["dotdot", "passwd", "up"]
    assert sorted(p.name for p in dest.iterdir() if p.is_symlink()) == ["chain", "inside"]
    assert (dest / "chain").read_text() == "hello\n" and (dest / "sub/back").read_text() == "hello\n"


def test_a_build_export_keeps_every_link_as_a_link(repo: tuple[GitObjects, str],
                                                   tmp_path: Path) -> None:
    objects, head = repo
    dest = tmp_path / "build"
    dest.mkdir()
    assert objects.export(head, dest) == []
    assert {name: os.readlink(dest / name) for name in LINKS} == LINKS
