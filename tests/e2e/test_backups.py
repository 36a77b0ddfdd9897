"""BK1–BK5 end to end: real PostgreSQL rows and mount files, a real restic repository,
restores into the same environment, another one, and a fresh SHIPWAY_HOME; and the
failures that must show as failed activities while the environment keeps serving."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Shipway, push, running_shipway, stdlib_with_postgres

pytestmark = pytest.mark.e2e

REPO_DIR = Path(tempfile.mkdtemp(prefix="shipway-bk-repo-"))
REPOSITORY = REPO_DIR / "restic"
PASSWORD = REPO_DIR / "secret" / "password"
SHIPWAY_EXTRA_ENV = {"SHIPWAY_BACKUP_REPOSITORY": str(REPOSITORY),
                     "SHIPWAY_BACKUP_PASSWORD_FILE": str(PASSWORD),
                     "SHIPWAY_BACKUP_TICK": "1"}
@pytest.fixture(scope="module", autouse=True)
def _repository_dir() -> Iterator[None]:
    yield
    shutil.rmtree(REPO_DIR, ignore_errors=True)


def sql(sw: Shipway, env: str, statement: str, project: str = "bk") -> str:
    variables = json.loads(sw.fetch(sw.url(project, env) + "env")[1])
    db = json.loads(base64.b64decode(variables["PLATFORM_RELATIONSHIPS"]))["database"][0]
    url = f"postgresql://{db['username']}:{db['password']}@{db['ip']}:{db['port']}/{db['path']}"
    out = subprocess.run(["psql", "-qtA", url, "-c", statement], capture_output=True, text=True,
                         check=True, timeout=30)
    return out.stdout.strip()


def numbers(sw: Shipway, env: str, project: str = "bk") -> set[int]:
    return {int(v) for v in sql(sw, env, "select n from t", project).split()}


def mount_file(sw: Shipway, env: str = "main", project: str = "bk") -> Path:
    return sw.app_data(project, env=env) / "mounts" / "data" / "upload.txt"


def backups(sw: Shipway, *args: str) -> list[dict]:
    return json.loads(sw.cli("backup:list", "-p", "bk", "--format", "json", *args).stdout)


def last_activity(sw: Shipway, type_: str) -> dict:
    found = json.loads(sw.cli("activity:list", "-p", "bk", "--format", "json").stdout)
    return next(a for a in found if a["type"] == type_)


def wait_for(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Writer:
    """A client inserting numbered rows while a backup runs."""

    def __init__(self, sw: Shipway) -> None:
        self.sw, self.done, self.written = sw, threading.Event(), 0
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.is_set():
            try:
                sql(self.sw, "main", f"insert into t values ({self.written + 1})")
                self.written += 1
            except subprocess.CalledProcessError as exc:
                self.errors.append(exc.stderr)

    def __enter__(self) -> Writer:
        self.thread.start()
        wait_for(lambda: self.written >= 3, "the writer's first rows")
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def proj(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    remote = shipway.create_project("bk")
    repo = stdlib_with_postgres(tmp_path_factory.mktemp("bk") / "repo", disk_mb=1024)  # big test files
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    sql(shipway, "main", "create table t (n int)")
    mount_file(shipway).write_text("at backup time\n")
    return {"remote": remote, "repo": repo, "backup": None}


def test_backup_while_writing_then_restore_brings_rows_and_files_back(shipway: Shipway,
                                                                      proj: dict) -> None:
    with Writer(shipway) as writer:
        before = writer.written
        out = shipway.cli("backup:create", "-p", "bk", "-e", "main")
        after = writer.written
    assert not writer.errors, writer.errors  # the pause made no client fail
    log = out.stdout
    assert "writes paused for" in log and "verified" in log, log
    activity = last_activity(shipway, "environment.backup")
    assert activity["result"] == "success" and activity["details"]["pause_seconds"] < 2
    listed = backups(shipway)
    assert [b["id"] for b in listed] == [activity["details"]["backup"]]
    assert listed[0]["environment"] == "main" and listed[0]["release"] == "v1"
    assert PASSWORD.stat().st_mode & 0o777 == 0o600
    assert PASSWORD.read_text().strip() not in (shipway.serve_log.read_text() + log)
    at_backup = numbers(shipway, "main")
    saved = {n for n in at_backup if n <= before}
    assert saved == set(range(1, before + 1))

    # The damage: rows deleted, a file removed, more rows written after the backup.
    sql(shipway, "main", "delete from t where n <= 2; insert into t values (100000)")
    mount_file(shipway).unlink()
    restored = shipway.cli("backup:restore", listed[0]["id"], "-p", "bk")
    assert "Data: restored" in restored.stdout, restored.stdout
    back = numbers(shipway, "main")
    assert set(range(1, before + 1)) <= back <= set(range(1, after + 1))  # the backup's moment
    assert 100000 not in back
    assert mount_file(shipway).read_text() == "at backup time\n"
    code, body = shipway.fetch(shipway.url("bk") + "files")
    assert code == 200 and "upload.txt" in body
    proj["backup"] = listed[0]["id"]
    proj["rows"] = back


def test_backup_get_shows_code_and_environment(shipway: Shipway, proj: dict) -> None:
    got = json.loads(shipway.cli("backup:get", str(proj["backup"]), "-p", "bk",
                                 "--format", "json").stdout)
    assert got["environment_type"] == "production" and len(got["commit"]) == 40


def test_restore_into_another_environment(shipway: Shipway, proj: dict) -> None:
    out = shipway.cli("backup:restore", str(proj["backup"]), "-p", "bk", "--target", "staging")
    assert "into staging" in out.stdout, out.stdout
    assert numbers(shipway, "staging") == proj["rows"]
    assert mount_file(shipway, "staging").read_text() == "at backup time\n"
    assert numbers(shipway, "main") == proj["rows"]  # the source is untouched


def test_live_backup_and_second_backup_adds_little(shipway: Shipway, proj: dict) -> None:
    big = shipway.app_data("bk") / "mounts" / "data" / "big.bin"
    big.write_bytes(os.urandom(64 << 20))
    shipway.cli("backup:create", "-p", "bk", "-e", "main", "--live")
    first = last_activity(shipway, "environment.backup")["details"]["bytes_added"]
    mount_file(shipway).write_text("changed\n")
    out = shipway.cli("backup:create", "-p", "bk", "-e", "main", "--live")
    assert "live snapshot" in out.stdout and "writes paused" not in out.stdout
    second = last_activity(shipway, "environment.backup")["details"]["bytes_added"]
    assert first > 60 << 20 and second < first * 0.05, (first, second)
    big.unlink()


def test_wrong_password_fails_the_activity_and_the_environment_keeps_serving(
        shipway: Shipway, proj: dict) -> None:
    listed = backups(shipway)
    good = PASSWORD.read_text()
    PASSWORD.write_text("not the password\n")
    try:
        out = shipway.cli("backup:create", "-p", "bk", "-e", "main", check=False)
        assert out.returncode != 0 and "wrong password" in out.stdout, out.stdout
        assert last_activity(shipway, "environment.backup")["result"] == "failure"
    finally:
        PASSWORD.write_text(good)
    assert shipway.fetch(shipway.url("bk"))[0] == 200
    assert backups(shipway) == listed


def test_missing_repository_is_a_failure_not_a_new_empty_repository(shipway: Shipway,
                                                                    proj: dict) -> None:
    listed = backups(shipway)
    moved = REPO_DIR / "unplugged"
    REPOSITORY.rename(moved)
    try:
        out = shipway.cli("backup:create", "-p", "bk", "-e", "main", check=False)
        assert out.returncode != 0 and "missing or unreachable" in out.stdout, out.stdout
        assert not REPOSITORY.exists()
        assert shipway.fetch(shipway.url("bk"))[0] == 200
    finally:
        shutil.rmtree(REPOSITORY, ignore_errors=True)
        moved.rename(REPOSITORY)
    assert backups(shipway) == listed


def test_kill9_mid_backup_leaves_a_failed_activity_and_no_listed_backup(shipway: Shipway,
                                                                       proj: dict) -> None:
    listed = backups(shipway)
    big = shipway.app_data("bk") / "mounts" / "data" / "slow.bin"
    big.write_bytes(os.urandom(200 << 20))  # new data: restic needs a while for it
    try:
        started = shipway.cli("backup:create", "-p", "bk", "-e", "main", "-W").stdout
        activity_id = started.split()[-1]
        log = shipway.home / "activities" / f"{activity_id}.log"
        wait_for(lambda: "Data: snapshot" in log.read_text(), "the backup's snapshot")
        shipway.kill9()
        shipway.start()
        got = json.loads(shipway.cli("activity:list", "-p", "bk", "--format", "json").stdout)
        assert next(a for a in got if a["id"] == activity_id)["result"] == "failure"
        assert backups(shipway) == listed
        assert shipway.fetch(shipway.url("bk"))[0] == 200
    finally:
        big.unlink()
    shipway.cli("backup:create", "-p", "bk", "-e", "main")  # stale locks do not block the next


def test_fresh_home_restores_the_project_from_the_repository_alone(shipway: Shipway,
                                                                   proj: dict) -> None:
    with running_shipway(SHIPWAY_EXTRA_ENV) as fresh:
        assert fresh.cli("project:list", "--format", "json").stdout.strip() == "[]"
        listed = json.loads(fresh.cli("backup:list", "-p", "bk", "--format", "json").stdout)
        assert str(proj["backup"]) in {b["id"] for b in listed}
        out = fresh.cli("backup:restore", str(proj["backup"]), "-p", "bk")
        assert "history brought back" in out.stdout, out.stdout
        assert numbers(fresh, "main") == proj["rows"]
        assert mount_file(fresh).read_text() == "at backup time\n"
        code, body = fresh.fetch(fresh.url("bk"))
        assert code == 200 and body.startswith("stdlib v1")


def test_scheduled_backups_run_as_activities_and_are_pruned_by_policy(shipway: Shipway,
                                                                      proj: dict) -> None:
    manual = [b["id"] for b in backups(shipway) if not b["scheduled"]]
    out = shipway.cli("backup:schedule", "-p", "bk", "-e", "main", "--every", "5s",
                      "--keep-daily", "1", "--keep-weekly", "0")
    assert "every 5 s" in out.stdout

    def scheduled_runs() -> list[dict]:
        found = json.loads(shipway.cli("activity:list", "-p", "bk", "--format", "json").stdout)
        return [a for a in found if a["description"].startswith("scheduled backup")
                and a["state"] == "complete"]

    try:
        wait_for(lambda: len(scheduled_runs()) >= 2, "two scheduled backups", timeout=120)
    finally:
        shipway.cli("backup:schedule", "-p", "bk", "-e", "main", "--off")
    assert all(a["result"] == "success" for a in scheduled_runs())
    listed = backups(shipway)
    assert len([b for b in listed if b["scheduled"]]) == 1  # keep-daily 1: the newest only
    assert [b["id"] for b in listed if not b["scheduled"]] == manual  # manual ones are kept


def test_a_corrupt_repository_fails_the_restore_and_leaves_the_environment_alone(
        shipway: Shipway, proj: dict) -> None:
    """Last in this module: it damages every pack of the repository."""
    rows, text = numbers(shipway, "main"), mount_file(shipway).read_text()
    for pack in (REPOSITORY / "data").glob("*/*"):
        pack.chmod(0o600)
        with pack.open("r+b") as f:
            f.seek(pack.stat().st_size // 2)
            f.write(bytes(64))
    out = shipway.cli("backup:restore", str(proj["backup"]), "-p", "bk", check=False)
    assert out.returncode != 0 and "restic restore failed" in out.stdout, out.stdout
    assert last_activity(shipway, "environment.backup.restore")["result"] == "failure"
    assert "Data: restored" not in out.stdout
    assert numbers(shipway, "main") == rows and mount_file(shipway).read_text() == text
    assert shipway.fetch(shipway.url("bk"))[0] == 200

