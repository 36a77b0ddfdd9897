"""S5 pids limits, attacked: fork bombs in a build hook, a deploy hook, an app,
and a tree that outlives its cancel. Each must be held to its limit, say so,
and leave no process of its uid behind, while another project keeps answering."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from shipway.errors import BuildFailed, Cancelled
from shipway.sandbox import pids
from shipway.sandbox.groups import wait_until
from shipway.sandbox.processes import start_supervised, stop_supervised
from shipway.sandbox.spec import SandboxSpec, bwrap_command
from shipway.settings import load_settings
from tests.e2e.conftest import STDLIB, Shipway, make_repo, processes_of, push, wait_for
from tests.e2e.test_build_kit import Project, app_yaml, leftovers, needs_root

pytestmark = [pytest.mark.e2e, needs_root]

LIMIT = 48
SHIPWAY_EXTRA_ENV = {"SHIPWAY_BUILD_PIDS": str(LIMIT), "SHIPWAY_APP_PIDS": str(LIMIT)}
# Each process forks two more and exits: the classic bomb, in dash.
BOMB = "b() { b | b & }; b"
# One that holds what it gets: sleepers until a fork fails (dash then leaves
# the subshell), and the process itself stays.
HOARD = "(while :; do sleep 300 & done) 2>/dev/null"


def _sandboxed(spec: SandboxSpec) -> dict[str, Any]:
    """start_supervised's argv and env for `spec`."""
    command = bwrap_command(spec)
    return {"argv": list(command.argv), "env": dict(command.env)}


@contextmanager
def most_processes(uid: int) -> Iterator[list[int]]:
    """Sample how many processes `uid` has while the block runs; the samples."""
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(len(processes_of(uid)))
            done.wait(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield samples
    finally:
        done.set()
        sampler.join()


def samples_taken(samples: list[int], count: int = 30) -> Callable[[], bool]:
    return lambda: len(samples) >= count


# -- builds (a real build_app: bwrap, cgroups, loop disk) -------------------


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path, uid=61741, pids_max=LIMIT)


def test_a_fork_bombing_build_hook_is_refused_and_leaves_no_process(project: Project) -> None:
    project.commit({".platform.app.yaml": app_yaml(f"{BOMB}\nsleep 100")})
    started = time.monotonic()
    with most_processes(project.uid) as samples, pytest.raises(BuildFailed) as failed:
        project.build()
    assert f"the build reached its limit of {LIMIT} processes (SHIPWAY_BUILD_PIDS)" in str(failed.value)
    assert "in the build hook" in str(failed.value) and "nothing was deployed" in str(failed.value)
    assert time.monotonic() - started < 30  # refused at its first failed fork, not at the time limit
    assert processes_of(project.uid) == []  # the build returns only once all of it is gone
    assert max(samples) <= LIMIT
    assert leftovers(project.base) == []
    assert list((project.base / "artifacts").iterdir()) == []  # nothing was frozen


def test_a_hoarding_build_is_refused_too(project: Project) -> None:
    project.commit({".platform.app.yaml": app_yaml(f"{HOARD}\nsleep 100")})
    with most_processes(project.uid) as samples, pytest.raises(BuildFailed, match="SHIPWAY_BUILD_PIDS"):
        project.build()
    assert processes_of(project.uid) == []
    assert 0 < max(samples) <= LIMIT


def test_a_build_tree_escaping_its_session_dies_at_the_time_limit(project: Project) -> None:
    project.timeout = 1.0
    project.commit({".platform.app.yaml": app_yaml(
        "for i in 1 2 3 4 5 6 7 8; do setsid sleep 300 & done\ntrap '' TERM\nsleep 300")})
    with pytest.raises(Cancelled, match="time limit"):
        project.build()
    assert processes_of(project.uid) == []


def test_a_build_below_its_limit_is_not_disturbed(project: Project) -> None:
    project.commit({".platform.app.yaml": app_yaml(
        f"for i in $(seq {LIMIT // 2}); do sleep 0.5 & done\nwait\necho all-done")})
    project.build()
    assert "all-done" in project.log and "limit" not in project.log


# -- a supervised app process, directly ------------------------------------


def test_a_fork_bombing_app_is_held_and_nothing_outlives_its_stop(tmp_path: Path) -> None:
    uid = 61742
    state = tmp_path / "web"
    log = tmp_path / "app.log"
    app = tmp_path / "app"
    app.mkdir()
    spec = SandboxSpec(command=("sh", "-c", f"{HOARD}; exec sleep 300"), app_dir=app,
                       app_writable=False, uid=uid, gid=uid, env={"PATH": "/usr/bin:/bin"})
    limit = pids.Limit(pids.app_group_name(tmp_path, state), LIMIT)
    start_supervised(state, **_sandboxed(spec), log=log, grace=0.5, limit=limit)
    try:
        assert wait_until(lambda: "reached its limit" in log.read_text(), 15.0), log.read_text()
        with most_processes(uid) as samples:
            assert wait_until(samples_taken(samples), 10.0)
        assert 0 < max(samples) <= LIMIT
    finally:
        stop_supervised(state)
    assert processes_of(uid) == []
    assert f"limit of {LIMIT} processes (SHIPWAY_APP_PIDS)" in log.read_text()
    assert pids.existing(limit.name, "apps") is None  # the cgroup goes with its supervisor


def test_a_sweep_removes_only_this_instances_empty_cgroups(tmp_path: Path) -> None:
    home, state = tmp_path / "home", tmp_path / "home" / "run" / "web"
    app = tmp_path / "app"
    app.mkdir()
    spec = SandboxSpec(command=("sleep", "300"), app_dir=app, app_writable=False,
                       uid=61743, gid=61743, env={"PATH": "/usr/bin:/bin"})
    limit = pids.Limit(pids.app_group_name(home, state), LIMIT)
    start_supervised(state, **_sandboxed(spec), log=tmp_path / "app.log", grace=0.5, limit=limit)
    empty, _ = pids.create(LIMIT, pids.transient_name(home, "hook"), "apps")
    other, _ = pids.create(LIMIT, pids.transient_name(tmp_path / "other", "hook"), "apps")
    assert empty is not None and other is not None
    try:
        wait_for(lambda: processes_of(61743) != [], 10, "the app starts")
        assert pids.sweep(home) == [empty.path.name]
        assert other.path.is_dir(), "another instance's cgroup is left alone"
        running = pids.existing(limit.name, "apps")
        assert running is not None and running.pids(), "a cgroup in use is left alone"
    finally:
        stop_supervised(state)
        other.remove()
    assert processes_of(61743) == [] and pids.existing(limit.name, "apps") is None


def test_a_supervisor_killed_outright_leaves_no_cgroup_after_the_stop(tmp_path: Path) -> None:
    state = tmp_path / "web"
    app = tmp_path / "app"
    app.mkdir()
    spec = SandboxSpec(command=("sh", "-c", f"{HOARD}; exec sleep 300"), app_dir=app,
                       app_writable=False, uid=61744, gid=61744, env={"PATH": "/usr/bin:/bin"})
    limit = pids.Limit(pids.app_group_name(tmp_path, state), LIMIT)
    supervisor = start_supervised(state, **_sandboxed(spec), log=tmp_path / "app.log", grace=0.5,
                                  limit=limit)
    wait_for(lambda: len(processes_of(61744)) > LIMIT // 2, 15, "the hoard grows")
    os.kill(supervisor, signal.SIGKILL)
    stop_supervised(state)
    assert processes_of(61744) == []
    assert pids.existing(limit.name, "apps") is None


# -- a whole platform: the other project keeps answering -------------------


@pytest.fixture(scope="module")
def victim(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> str:
    remote = shipway.create_project("victim")
    out = push(make_repo(tmp_path_factory.mktemp("victim") / "repo", STDLIB), remote)
    assert out.returncode == 0, out.stdout + out.stderr
    url = shipway.url("victim")
    assert shipway.fetch(url)[0] == 200
    return url


def bomb_repo(path: Path, *, build: str = "true", deploy: str = "true", start: str) -> Path:
    repo = make_repo(path, STDLIB)
    (repo / ".platform.app.yaml").write_text(
        "name: app\ntype: 'python:3.11'\n"
        f"hooks:\n  build: |\n    {build}\n  deploy: |\n    echo app-uid=$(id -u)\n    {deploy}\n"
        "mounts:\n  data: {source: local, source_path: data}\n"
        "  scratch: {source: tmp, source_path: scratch}\n"
        f"web:\n  commands:\n    start: |\n      {start}\n")
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "bomb"], check=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
    return repo


def test_a_fork_bombing_push_build_is_refused_and_the_victim_answers(
        shipway: Shipway, victim: str, tmp_path: Path) -> None:
    build_uid = load_settings(shipway.env).build_uid
    repo = bomb_repo(tmp_path / "repo", build=f"{BOMB}; sleep 100", start="python3 app.py")
    with most_processes(build_uid) as samples:
        out = push(repo, shipway.create_project("bomber"))
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert f"the build reached its limit of {LIMIT} processes (SHIPWAY_BUILD_PIDS)" in text
    assert max(samples) <= LIMIT
    assert processes_of(build_uid) == []
    assert shipway.fetch(victim)[0] == 200


def test_a_fork_bombing_app_and_deploy_hook_are_held_and_the_victim_answers(
        shipway: Shipway, victim: str, tmp_path: Path) -> None:
    start = f"{HOARD} & exec python3 app.py"
    repo = bomb_repo(tmp_path / "repo", deploy=f"{BOMB}; sleep 100", start=start)
    out = push(repo, shipway.create_project("hoarder"))
    text = out.stdout + out.stderr
    assert f"the deploy hook reached its limit of {LIMIT} processes (SHIPWAY_APP_PIDS)" in text
    found = re.search(r"app-uid=(\d+)", text)
    assert found is not None, text
    uid = int(found.group(1))
    app_log = shipway.home / "logs" / "hoarder" / "main" / "app" / "app.log"
    assert wait_until(lambda: app_log.exists() and "reached its limit" in app_log.read_text(), 30.0)
    answers = []
    with most_processes(uid) as samples:
        for _ in range(5):
            answers.append(shipway.fetch(victim)[0])
        assert wait_until(samples_taken(samples), 10.0)
    assert answers == [200] * 5
    assert 0 < max(samples) <= LIMIT
