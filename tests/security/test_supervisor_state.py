"""Attack: a spec.json the app writes in its own run directories (S1, S5).

`sock` (bound writable at /run/shipway/sock) and `tmp`, `tmp-<worker>` (its
/tmp) sit beside the supervisors' state directories in run_dir. A stop that
believed a spec.json found there would killpg the pid it names (if that
process runs the argv it names) and kill and remove the cgroup it names:
any process and any cgroup on the host. Here the victims are a process of
ours in a cgroup of ours, outside the app; the app's real web process runs
beside them and must be stopped as usual.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.deploy.instances import Instance, stop_all
from shipway.sandbox import pids
from shipway.sandbox.groups import alive
from shipway.sandbox.processes import start_supervised, stop_supervised
from shipway.sandbox.spec import SandboxSpec, bwrap_command
from tests.e2e.conftest import processes_of, wait_for
from tests.e2e.test_build_kit import needs_root

pytestmark = [pytest.mark.e2e, needs_root]

UID = 61746
LIMIT = 48


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], pids.PidsCgroup]]:
    """A process in a cgroup of its own, neither of them the app's."""
    group, why = pids.create(LIMIT, pids.transient_name(tmp_path / "other", "hook"), "apps")
    assert group is not None, why
    proc = subprocess.Popen(group.wrap(["sleep", "300"]), start_new_session=True)
    try:
        wait_for(lambda: proc.pid in group.pids(), 10, "the victim enters its cgroup")
        yield proc, group
    finally:
        proc.kill()
        proc.wait()
        group.remove()


def plant(run_dir: Path, name: str, spec: dict[str, object], child: int) -> Path:
    """What an app can write in its own directory `name` of run_dir."""
    planted = run_dir / name
    planted.mkdir(parents=True, exist_ok=True)
    os.chown(planted, UID, UID)
    (planted / "spec.json").write_text(json.dumps(spec))
    (planted / "child.pid").write_text(f"{child}\n")
    (planted / "supervisor.pid").write_text(f"{child}\n")
    for path in planted.iterdir():
        os.chown(path, UID, UID)
    return planted


@pytest.mark.parametrize("where", ["sock", "tmp", "tmp-worker-queue"])
def test_a_spec_the_app_wrote_kills_and_removes_nothing_outside_the_app(
        tmp_path: Path, victim: tuple[subprocess.Popen[bytes], pids.PidsCgroup], where: str) -> None:
    proc, group = victim
    inst = Instance(tmp_path / "home", "p", "main", "app")
    app = tmp_path / "app"
    app.mkdir()
    web = inst.run_dir / "web"
    spec = SandboxSpec(command=("sleep", "300"), app_dir=app, app_writable=False,
                       uid=UID, gid=UID, env={"PATH": "/usr/bin:/bin"})
    command = bwrap_command(spec)
    limit = pids.Limit(pids.app_group_name(inst.home, web), LIMIT)
    start_supervised(web, list(command.argv), env=dict(command.env), log=tmp_path / "app.log",
                     grace=0.5, limit=limit)
    try:
        wait_for(lambda: processes_of(UID) != [], 10, "the app starts")
        # The victim's own argv and pid (so killpg would pass its argv check)
        # and its cgroup, by name and by a way up and back down.
        plant(inst.run_dir, where, {"argv": ["sleep", "300"], "grace": 0.1,
                                    "pids": {"name": group.path.name, "max": LIMIT}}, proc.pid)
        stop_all(inst)
        assert processes_of(UID) == []  # the app's own web process is stopped
        assert pids.existing(limit.name, "apps") is None
    finally:
        stop_supervised(web)
    assert alive(proc.pid) and proc.poll() is None
    assert group.path.is_dir() and group.pids() == [proc.pid]


def test_a_spec_naming_a_cgroup_by_a_path_is_never_believed(
        tmp_path: Path, victim: tuple[subprocess.Popen[bytes], pids.PidsCgroup]) -> None:
    # Even read from a state directory of ours, a name that is not one of
    # shipway's (a '/' or '..' leading to another cgroup) removes nothing.
    proc, group = victim
    state = tmp_path / "web"
    state.mkdir()
    (state / "spec.json").write_text(json.dumps(
        {"argv": ["none"], "pids": {"name": f"x/../{group.path.name}", "max": LIMIT}}))
    stop_supervised(state)
    assert group.path.is_dir() and group.pids() == [proc.pid]
    with pytest.raises(ValueError, match="not a shipway cgroup name"):
        pids.existing(f"x/../{group.path.name}", "apps")
    with pytest.raises(ValueError, match="not a shipway cgroup name"):
        pids.Limit("../../system.slice", LIMIT)
