"""BK pure parts: a restic snapshot is listed only if it is a complete, verified shipway
backup; the tags a backup carries; where backups go by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.backups.config import backup_settings
from shipway.backups.model import BackupMeta, filter_tags, from_snapshot, newest_first
from shipway.backups.restic import _reason
from shipway.errors import UsageError

META = BackupMeta(project="p", environment="main", environment_type="production",
                  commit="a" * 40, release="v3", live=False, app_uid=200100, service_uid=200500,
                  apps_gid=200998, created_at=1.5)
GOOD_TAGS = ["shipway", "project=p", "environment=main", f"commit={'a' * 40}", "release=v3",
             "paused", "verified"]
PATHS = ["/h/volumes/snapshots/p/main/backup/volume", "/h/backup/staging/p/main/meta"]


def snap(tags: list[str] | None = None, paths: list[str] | None = None,
         short: str = "1a2b3c4d", time: str = "2026-12-01T19:44:16.96389933Z") -> dict:
    return {"id": short + "0" * 56, "short_id": short, "time": time,
            "tags": GOOD_TAGS if tags is None else tags, "paths": PATHS if paths is None else paths}


@pytest.mark.parametrize(("snapshot", "listed"), [
    (snap(), True),
    (snap(tags=[t for t in GOOD_TAGS if t != "verified"]), False),   # cut short before verifying
    (snap(tags=[t for t in GOOD_TAGS if t != "shipway"]), False),    # someone else's snapshot
    (snap(tags=[t for t in GOOD_TAGS if not t.startswith("commit=")]), False),
    (snap(tags=[]), False),
    (snap(paths=PATHS[:1]), False),                                  # no meta/
    (snap(paths=[PATHS[0], "/x/other"]), False),
    (snap(paths=[PATHS[1], "/y/meta"]), False),                      # two meta/
    ({"id": "f" * 64, "short_id": "ffffffff", "time": "", "tags": None, "paths": None}, False),
])
def test_only_complete_verified_backups_are_listed(snapshot: dict, listed: bool) -> None:
    assert (from_snapshot(snapshot) is not None) is listed


def test_a_listed_backup_says_what_it_holds() -> None:
    backup = from_snapshot(snap())
    assert backup is not None
    assert (backup.project, backup.environment, backup.release, backup.live) == ("p", "main", "v3",
                                                                                 False)
    assert backup.data_path == PATHS[0] and backup.meta_path == PATHS[1]
    assert backup.created_at == "2026-12-01T19:44:16+00:00"


def test_tags_make_the_repository_self_describing() -> None:
    assert META.tags() == [t for t in GOOD_TAGS if t != "verified"]
    assert "live" in BackupMeta(**{**META.__dict__, "live": True}).tags()


@pytest.mark.parametrize(("project", "environment", "expected"), [
    ("p", None, "shipway,verified,project=p"),
    ("p", "main", "shipway,verified,project=p,environment=main"),
    (None, None, "shipway,verified"),
])
def test_filter_tags(project: str | None, environment: str | None, expected: str) -> None:
    assert filter_tags(project, environment) == expected


def test_meta_round_trips_and_refuses_unknown_formats() -> None:
    assert BackupMeta.from_json(META.to_json()) == META
    with pytest.raises(UsageError, match="format"):
        BackupMeta.from_json(META.to_json().replace(b'"format": 1', b'"format": 99'))


def test_newest_first() -> None:
    a = from_snapshot(snap(short="aaaaaaaa", time="2026-01-01T00:00:00Z"))
    b = from_snapshot(snap(short="bbbbbbbb", time="2026-02-01T00:00:00Z"))
    assert a and b and [x.id for x in newest_first([a, b])] == ["bbbbbbbb", "aaaaaaaa"]


@pytest.mark.parametrize(("environ", "repository", "password"), [
    ({}, "/srv/shipway-backups", "/srv/shipway/backup/password"),
    ({"SHIPWAY_BACKUP_REPOSITORY": "sftp:b@host:/bk"}, "sftp:b@host:/bk",
     "/srv/shipway/backup/password"),
    ({"SHIPWAY_BACKUP_PASSWORD_FILE": "/root/pw"}, "/srv/shipway-backups", "/root/pw"),
])
def test_settings(environ: dict, repository: str, password: str) -> None:
    s = backup_settings(Path("/srv/shipway"), environ)
    assert (s.repository, str(s.password_file)) == (repository, password)
    assert (s.local_repository is None) == repository.startswith("sftp:")


@pytest.mark.parametrize(("stderr", "reason"), [
    ("Fatal: wrong password or no key found\n", "wrong password or no key found"),
    ("repo at /x\nFatal: unable to save snapshot: no space left on device\n",
     "unable to save snapshot: no space left on device"),
    ("something odd\nlast words\n", "something odd; last words"),
    ("", "no reason given"),
])
def test_restic_reason(stderr: str, reason: str) -> None:
    assert _reason(stderr) == reason
