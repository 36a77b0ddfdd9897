"""What a backup is and says about itself (pure: no I/O)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from shipway.errors import UsageError

TAG = "shipway"
VERIFIED = "verified"
META_DIR = "meta"
META_FILE = "backup.json"
BUNDLE_FILE = "code.bundle"
FORMAT = 1


@dataclass(frozen=True)
class BackupMeta:
    """Written into the backup as `meta/backup.json`; what a restore needs besides the files."""

    project: str
    environment: str
    environment_type: str
    commit: str
    release: str
    live: bool
    app_uid: int
    service_uid: int
    apps_gid: int
    created_at: float
    scheduled: bool = False
    format: int = FORMAT

    def to_json(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> BackupMeta:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise UsageError(f"backup format {data.get('format')!r} is not one this shipway reads "
                             f"(it reads {FORMAT})")
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def tags(self) -> list[str]:
        return [TAG, f"project={self.project}", f"environment={self.environment}",
                f"commit={self.commit}", f"release={self.release}",
                "live" if self.live else "paused"] + (["scheduled"] if self.scheduled else [])


@dataclass(frozen=True)
class Backup:
    """A verified backup as the repository lists it."""

    id: str
    full_id: str
    project: str
    environment: str
    commit: str
    release: str
    live: bool
    created_at: str
    paths: tuple[str, ...]
    scheduled: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "project": self.project, "environment": self.environment,
                "commit": self.commit, "release": self.release, "live": self.live,
                "created_at": self.created_at, "scheduled": self.scheduled,
                "paths": list(self.paths)}

    @property
    def taken(self) -> float:
        return datetime.fromisoformat(self.created_at).timestamp()

    @property
    def data_path(self) -> str:
        """Where the volume's tree sits inside the snapshot (the one path not `meta/`)."""
        return next(p for p in self.paths if not p.endswith("/" + META_DIR))

    @property
    def meta_path(self) -> str:
        return next(p for p in self.paths if p.endswith("/" + META_DIR))


def filter_tags(project: str | None, environment: str | None = None) -> str:
    """restic's `--tag a,b` keeps snapshots that have every tag listed."""
    tags = [TAG, VERIFIED]
    if project:
        tags.append(f"project={project}")
    if environment:
        tags.append(f"environment={environment}")
    return ",".join(tags)


def from_snapshot(snap: dict[str, Any]) -> Backup | None:
    """A restic snapshot (its `--json` form) as a Backup; None unless it is a complete,
    verified shipway backup."""
    tags = snap.get("tags") or []
    if TAG not in tags or VERIFIED not in tags:
        return None
    values = dict(t.split("=", 1) for t in tags if "=" in t)
    paths = tuple(snap.get("paths") or ())
    needed = ("project", "environment", "commit", "release")
    if any(k not in values for k in needed) or len(paths) != 2:
        return None
    if sum(p.endswith("/" + META_DIR) for p in paths) != 1:
        return None
    return Backup(
        id=snap["short_id"], full_id=snap["id"], project=values["project"],
        environment=values["environment"], commit=values["commit"], release=values["release"],
        live="live" in tags, created_at=_iso(snap.get("time", "")), paths=paths,
        scheduled="scheduled" in tags,
    )


def newest_first(backups: list[Backup]) -> list[Backup]:
    return sorted(backups, key=lambda b: (b.created_at, b.id), reverse=True)


def _iso(restic_time: str) -> str:
    """restic's nanosecond RFC 3339 time, to seconds in UTC."""
    head = restic_time.split(".")[0].rstrip("Z")
    try:
        return datetime.fromisoformat(head).replace(tzinfo=UTC).isoformat(timespec="seconds")
    except ValueError:
        return restic_time
