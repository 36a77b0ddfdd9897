"""S3/S1: a user variable never reaches a process that runs as root.

Every process between the control plane and the app's uid runs as root:
the cgroup entry shell, bindexec, bwrap, and setpriv inside the sandbox
(which keeps root's powers in the sandbox's mount namespace until it drops).
Handed the app's variables as its environment, `LD_PRELOAD` would make the
dynamic loader of one of them run code the pusher built. The attack: a
build compiles a library whose constructor says which uid loaded it, and
the app's config sets `env:LD_PRELOAD` to it; the app's own processes load
it (the test can fail), no root process may.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import STDLIB, Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e

PROBE_C = r"""
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void probe(void) {
    if (geteuid() == 0) fprintf(stderr, "PRELOADED-AS-ROOT\n");
    else fprintf(stderr, "PRELOADED-AS-APP\n");
}
"""


def test_ld_preload_from_a_variable_is_loaded_by_no_root_process(shipway: Shipway, tmp_path) -> None:
    remote = shipway.create_project("preload")
    repo = make_repo(tmp_path / "repo", STDLIB)
    (repo / "probe.c").write_text(PROBE_C)
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace(
        "    ROLE: web\n", "    ROLE: web\n    LD_PRELOAD: /app/probe.so\n").replace(
        '    echo "building stdlib app"', "    cc -shared -fPIC -o probe.so probe.c"))
    commit(repo, "a variable that preloads the pusher's code")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "PRELOADED-AS-APP" in log  # the deploy hook, as the app's uid, did load it
    assert "PRELOADED-AS-ROOT" not in log
    logs = shipway.home / "logs" / "preload" / "main" / "app"
    assert "PRELOADED-AS-APP" in (logs / "app.log").read_text()
    for name in ("app.log", "deploy.log", "post-deploy.log"):
        assert "PRELOADED-AS-ROOT" not in (logs / name).read_text(), name
