"""Attack: a nested mount's bind destination redirected by the app's symlink (S1).

Root's bwrap resolves a bind destination inside the sandbox, following every
symlink but the last. An app that replaced `data/sub` (inside its `data`
mount) with `../../usr` and then declared a mount at `data/sub/bin` would
have its own directory bound over the sandbox's /usr/bin, and bwrap then
execs /usr/bin/setpriv from there: the app's file, as real root. Here that
file writes a marker as root into the app's mount; it must never appear.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Shipway, commit, push
from tests.security.test_paths import app_yaml, deployed, repo_with

pytestmark = pytest.mark.e2e

# The payload's setpriv is a dash script and brings its own sh, as /bin/sh is
# /usr/bin/sh, which the bind replaces too; it records its uid with builtins.
HOOK = """\
hooks:
  post_deploy: |
    cp /bin/sh /app/payload/sh
    printf '#!/bin/sh\\nwhile read k v r; do [ "$k" = Uid: ] && echo "$v"; done' > /app/payload/setpriv
    printf ' </proc/self/status >/app/data/rooted\\nexit 1\\n' >> /app/payload/setpriv
    chmod 755 /app/payload/setpriv /app/payload/sh
    rm -rf /app/data/sub && ln -s ../../usr /app/data/sub
    ls -l /app/data/
"""
V1 = "mounts:\n  data: {source: local}\n  payload: {source: local}\n" + HOOK


def test_a_nested_mount_redirected_over_usr_bin_is_refused(shipway: Shipway,
                                                           tmp_path: Path) -> None:
    repo = repo_with(tmp_path, app_yaml(top=V1))
    remote, url = deployed(shipway, "nestroot", repo)
    data = shipway.app_data("nestroot") / "mounts"
    assert (data / "data/sub").is_symlink()  # the app did plant it
    assert (data / "payload/setpriv").is_file()
    v2 = V1.replace("  payload: {source: local}\n", "  payload: {source: local}\n"
                    "  data/sub/bin: {source: local, source_path: payload}\n")
    (repo / ".platform.app.yaml").write_text(app_yaml(top=v2))
    (repo / "app.py").write_text((repo / "app.py").read_text().replace('"v1"', '"v2"'))
    commit(repo, "v2")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0, log
    assert "data/sub/bin" in log and "source_path must be 'data/sub/bin'" in log, log
    assert ".platform.app.yaml:" in log, log  # file:line where the user can act
    assert "Traceback" not in log
    assert not (data / "data/rooted").exists()
    assert shipway.fetch(url) == (200, "app v1")  # the previous release, still serving


def test_a_nested_mount_of_the_same_directory_is_not_bound(shipway: Shipway,
                                                           tmp_path: Path) -> None:
    # Allowed, as the outer mount's own directory: then nothing is bound
    # there, so the app's symlink redirects nothing and the push deploys.
    repo = repo_with(tmp_path, app_yaml(top=V1))
    remote, url = deployed(shipway, "nestsame", repo)
    data = shipway.app_data("nestsame") / "mounts"
    assert (data / "data/sub").is_symlink()
    v2 = V1.replace("  payload: {source: local}\n", "  payload: {source: local}\n"
                    "  data/sub/bin: {source: local, source_path: data/sub/bin}\n")
    v2 = v2.replace(HOOK, "")
    (repo / ".platform.app.yaml").write_text(app_yaml(top=v2))
    (repo / "app.py").write_text((repo / "app.py").read_text().replace('"v1"', '"v2"'))
    commit(repo, "v2")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert not (data / "data/rooted").exists()
    assert shipway.fetch(url) == (200, "app v2")
    assert (data / "data/sub").is_symlink()  # left as the app made it, not followed
