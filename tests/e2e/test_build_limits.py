"""B5, B6, B8 with real bwrap, loop-mounted disks and cgroups: the build's
disk and memory limits, its cache, cancel and time limit."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from shipway.build import memory
from shipway.build.disk import open_disk, sweep
from shipway.errors import BuildFailed, Cancelled

from .conftest import processes_of
from .test_build_kit import Project, app_yaml, leftovers, needs_root

pytestmark = [pytest.mark.e2e, needs_root]



@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path, uid=61711)


def test_b6_writing_past_the_disk_limit_is_enospc_and_space_comes_back(project: Project) -> None:
    project.disk_mb = 64
    project.commit({".platform.app.yaml": app_yaml(
        "head -c 30000000 /dev/zero > $PLATFORM_CACHE_DIR/part\n"
        "head -c 40000000 /dev/zero > /app/more")})
    with pytest.raises(BuildFailed) as failed:
        project.build()
    message = str(failed.value)
    assert "No space left on device" in message and "64 MB" in message
    assert "SHIPWAY_BUILD_DISK" in message
    assert "W: " in project.log and "No space left on device" in project.log
    assert leftovers(project.base) == []
    assert not (project.base / "cache" / "proj1.img").exists()  # a failed build keeps no cache


def test_b6_tmp_is_on_the_limited_disk_not_in_ram(project: Project) -> None:
    project.commit({".platform.app.yaml": app_yaml(
        "set -e\n[ -z \"$(ls -A /tmp)\" ] && echo tmp-empty\n"
        "stat -f -c 'tmp:%T' /tmp; stat -f -c 'app:%T' /app\n"
        "df -P /tmp /app $PLATFORM_CACHE_DIR | tail -n 3 | cut -d' ' -f1 | sort -u | wc -l")})
    project.build()
    assert "tmp-empty" in project.log
    assert "tmp:ext2/ext3" in project.log and "app:ext2/ext3" in project.log  # stat's name for ext4
    assert project.lines[-2].strip() == "1"  # /tmp, /app and the cache: one file system


def test_b5_cache_persists_and_a_failed_build_leaves_it_unchanged(project: Project) -> None:
    project.commit({".platform.app.yaml": app_yaml("echo one > $PLATFORM_CACHE_DIR/kept")})
    project.build()
    project.commit({".platform.app.yaml": app_yaml(
        "echo two > $PLATFORM_CACHE_DIR/dropped; false")})
    with pytest.raises(BuildFailed):
        project.build()
    project.commit({".platform.app.yaml": app_yaml("ls $PLATFORM_CACHE_DIR; cat $PLATFORM_CACHE_DIR/kept")})
    project.build()
    assert "one" in project.log and "dropped" not in project.log
    assert leftovers(project.base) == []


def test_b6_runaway_memory_is_killed_and_the_build_fails(project: Project) -> None:
    project.memory_mb = 64
    project.commit({".platform.app.yaml": app_yaml(
        "python3 -c 'b = bytearray(400 * 1024 * 1024); print(len(b))'")})
    cgroup, why = memory.create(64)
    if cgroup is None:  # never pretend: the build says the limit is not enforced
        project.build()
        assert f"memory limit not enforced: {why}" in project.log
        pytest.skip(f"no memory cgroup here: {why}")
    cgroup.remove()
    with pytest.raises(BuildFailed) as failed:
        project.build()
    assert "ran out of memory" in str(failed.value) and "64 MB" in str(failed.value)
    assert "SHIPWAY_BUILD_MEMORY" in str(failed.value)
    assert leftovers(project.base) == []


def test_b6_a_build_within_its_memory_limit_passes(project: Project) -> None:
    project.memory_mb = 256
    project.commit({".platform.app.yaml": app_yaml("python3 -c 'b = bytearray(50 * 1024 * 1024)'")})
    assert not project.build().reused


def _build_in_thread(project: Project, cancel: threading.Event | None = None) -> dict[str, object]:
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = project.build(cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc
        outcome["ended"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    outcome["thread"] = thread
    return outcome


def _wait_for_line(project: Project, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in list(project.lines)):
        assert time.monotonic() < deadline, project.log
        time.sleep(0.02)


def test_b8_cancel_stops_the_whole_tree_within_2s(project: Project) -> None:
    # The hook ignores TERM and leaves a background child: both must go.
    project.commit({".platform.app.yaml": app_yaml(
        "trap '' TERM\nsleep 300 &\necho started\nsleep 300\necho never")})
    cancel = threading.Event()
    outcome = _build_in_thread(project, cancel)
    _wait_for_line(project, "started")
    cancelled_at = time.monotonic()
    cancel.set()
    outcome["thread"].join(10)  # type: ignore[attr-defined]
    assert isinstance(outcome.get("error"), Cancelled), outcome
    assert str(outcome["error"]) == "build cancelled"
    assert float(outcome["ended"]) - cancelled_at < 2.0  # type: ignore[arg-type]
    assert processes_of(project.uid) == []
    assert project.store.keys() == []  # nothing frozen, so nothing can be deployed
    assert leftovers(project.base) == []


def test_b8_a_build_past_its_time_limit_is_stopped_with_a_clear_message(project: Project) -> None:
    project.timeout = 2
    project.commit({".platform.app.yaml": app_yaml("echo started\nsleep 60")})
    started = time.monotonic()
    with pytest.raises(Cancelled) as stopped:
        project.build()
    assert "build exceeded its time limit of 2 s" in str(stopped.value)
    assert time.monotonic() - started < 5
    assert processes_of(project.uid) == [] and leftovers(project.base) == []


def test_b8_the_time_limit_covers_the_whole_build_not_each_step(project: Project) -> None:
    project.timeout = 3
    project.commit({
        ".platform.app.yaml": app_yaml("sleep 2", type_="nodejs:20"),
        "package.json": '{"name": "x", "version": "1.0.0", "scripts": {"preinstall": "sleep 2"}}',
    })
    with pytest.raises(Cancelled, match="time limit of 3 s"):
        project.build()


def test_b6_sweep_removes_disks_a_dead_control_plane_left(tmp_path: Path) -> None:
    work = tmp_path / "builds"
    open_disk(work / "orphan", tmp_path / "cache" / "p.img", 16, 61711, print)
    assert leftovers(tmp_path) != []
    swept = sweep(work)
    assert work / "orphan" in swept
    assert leftovers(tmp_path) == []
    assert not os.path.ismount(work / "orphan")
