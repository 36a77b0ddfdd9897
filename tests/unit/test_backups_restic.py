"""BK2/BK5 against a real restic and a real local repository: the password never on an
argument list, generated root-only, wrong passwords and missing repositories as reasons."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from shipway.backups.password import ensure_password
from shipway.backups.restic import BackupFailed, Restic
from shipway.errors import UserError

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed")


@pytest.fixture
def repo(tmp_path: Path) -> Restic:
    ensure_password(tmp_path / "secret" / "pw")
    restic = Restic(str(tmp_path / "repo"), tmp_path / "secret" / "pw")
    assert restic.ensure_repository(may_create=True) is True
    return restic


def test_password_is_generated_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "d" / "pw"
    assert ensure_password(path) is True
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first.strip()) >= 40
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_password(path) is False and path.read_text() == first


def test_a_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("x\n")
    path.chmod(0o644)
    with pytest.raises(UserError, match="chmod 600"):
        ensure_password(path)


def test_backup_verify_restore_round_trip(repo: Restic, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "apps").mkdir(parents=True)
    (src / "apps" / "f").write_text("data\n")
    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / "backup.json").write_text("{}\n")
    result = repo.backup([src, meta], ["shipway", "project=p"])
    assert repo.dump(result.snapshot_id, str(meta / "backup.json")) == b"{}\n"
    assert repo.top_level(result.snapshot_id, str(src)) == ["apps"]
    tagged = repo.add_tag(result.snapshot_id, "verified")
    assert [s["short_id"] for s in repo.snapshots("shipway,verified")] == [tagged]
    repo.restore(tagged, tmp_path / "out", include=str(src))
    assert (tmp_path / "out" / str(src).lstrip("/") / "apps" / "f").read_text() == "data\n"
    assert not (tmp_path / "out" / str(meta).lstrip("/")).exists()
    repo.forget(tagged)
    assert repo.snapshots("shipway") == []


def test_password_reaches_restic_by_file_not_argv(repo: Restic) -> None:
    env = repo._env()
    assert env["RESTIC_PASSWORD_FILE"] == str(repo.password_file)
    assert "RESTIC_PASSWORD" not in env
    secret = repo.password_file.read_text().strip()
    assert all(secret not in arg for arg in repo._cache_args())


def test_wrong_password_is_the_reason(repo: Restic, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    os.chmod(wrong, 0o600)
    with pytest.raises(BackupFailed, match="wrong password"):
        Restic(repo.repository, wrong).snapshots()
    with pytest.raises(BackupFailed, match="wrong password"):
        Restic(repo.repository, wrong).ensure_repository(may_create=True)


def test_missing_repository_is_not_recreated_unless_allowed(repo: Restic, tmp_path: Path) -> None:
    gone = Restic(str(tmp_path / "elsewhere"), repo.password_file)
    with pytest.raises(BackupFailed, match="missing or unreachable"):
        gone.ensure_repository(may_create=False)
    assert not (tmp_path / "elsewhere").exists()


def test_unreachable_remote_is_a_failure_with_its_reason(repo: Restic) -> None:
    remote = Restic("rest:http://127.0.0.1:9/", repo.password_file)
    with pytest.raises(BackupFailed) as raised:
        remote.ensure_repository(may_create=True)
    assert "127.0.0.1:9" in str(raised.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")
def test_full_disk_is_a_failure_and_leaves_no_snapshot(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(small)], check=True)
    try:
        ensure_password(tmp_path / "pw")
        restic = Restic(str(small / "repo"), tmp_path / "pw")
        restic.ensure_repository(may_create=True)
        src = tmp_path / "src"
        src.mkdir()
        (src / "big").write_bytes(os.urandom(12 << 20))
        with pytest.raises(BackupFailed, match="no space left on device"):
            restic.backup([src], ["shipway"])
        assert restic.snapshots() == []
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="running as another uid needs root")
def test_another_uid_reads_neither_the_password_nor_the_repository(repo: Restic,
                                                                  tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # so only the files' own modes stand in the way
    repo.password_file.parent.parent.chmod(0o755)
    as_app = ["setpriv", "--reuid=64998", "--regid=64998", "--clear-groups"]
    for target in (repo.password_file, Path(repo.repository) / "config",
                   Path(repo.repository) / "keys"):
        out = subprocess.run([*as_app, "cat", str(target)], capture_output=True, text=True,
                             check=False)
        assert out.returncode != 0 and "Permission denied" in out.stderr, (target, out)
