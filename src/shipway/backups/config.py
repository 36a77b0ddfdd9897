"""Where backups go and where their password is kept (settings of BK2).

SHIPWAY_BACKUP_REPOSITORY: a restic repository — a local path (default: the
folder `<SHIPWAY_HOME>-backups` beside the home, outside the data pool; point
it at another disk), or any URL restic takes (`sftp:user@host:/path`,
`s3:https://host/bucket`, `rest:…`), passed through unchanged.
SHIPWAY_BACKUP_PASSWORD_FILE: the repository's password, generated on first
use (default `<SHIPWAY_HOME>/backup/password`, mode 0600). Copy both off
the machine: they are all a new machine needs to restore (BK3).
SHIPWAY_BACKUP_TICK: seconds between looks for due automated backups (BK4;
default 30).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BackupSettings:
    repository: str
    password_file: Path
    work_dir: Path      # staging of `meta/`, restore scratch, restic's cache
    tick_seconds: float  # how often the control plane looks for due automated backups

    @property
    def local_repository(self) -> Path | None:
        """The repository's folder when it is a local path (no `scheme:` prefix)."""
        if self.repository.startswith("/") or ":" not in self.repository:
            return Path(self.repository)
        return None


def backup_settings(home: Path, environ: Mapping[str, str] | None = None) -> BackupSettings:
    env = os.environ if environ is None else environ
    default_repo = home.with_name(home.name + "-backups")
    return BackupSettings(
        repository=env.get("SHIPWAY_BACKUP_REPOSITORY") or str(default_repo),
        password_file=Path(env.get("SHIPWAY_BACKUP_PASSWORD_FILE") or home / "backup" / "password"),
        work_dir=home / "backup",
        tick_seconds=float(env.get("SHIPWAY_BACKUP_TICK") or 30),
    )
