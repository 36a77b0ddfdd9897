"""The restic executor: the only code that runs restic (BK2).

The password reaches restic through RESTIC_PASSWORD_FILE and the repository
through RESTIC_REPOSITORY, never on an argument list (a process's arguments
are readable by every user of the machine), and restic's own output is
reduced to its "Fatal:" reason before it reaches an activity log. Other
RESTIC_*/AWS_*/B2_* variables of the control plane pass through, so an S3
or SFTP repository's credentials are configured the way restic documents.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.errors import PlatformError

PASSTHROUGH_PREFIXES = ("AWS_", "B2_", "AZURE_", "GOOGLE_", "OS_", "ST_", "RCLONE_", "SSH_")
# A remote repository behind a proxy or a private CA needs these as any HTTPS client does.
PASSTHROUGH = ("PATH", "HOME", "TMPDIR", "LANG", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY",
               "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
HOST = "shipway"  # fixed: restic looks for a parent snapshot by host and paths


class BackupFailed(PlatformError):
    """restic or the repository failed (unreachable, wrong password, full disk)."""


@dataclass(frozen=True)
class BackupResult:
    snapshot_id: str
    bytes_processed: int
    bytes_added: int
    seconds: float


@dataclass(frozen=True)
class Restic:
    repository: str
    password_file: Path
    cache_dir: Path | None = None
    binary: str = "restic"

    def ensure_repository(self, *, may_create: bool) -> bool:
        """Open the repository, creating it when there is none and `may_create`;
        True if it was created now."""
        probe = self._run("cat", "config", check=False)
        if probe.returncode == 0:
            return False
        reason = _reason(probe.stderr)
        missing = "unable to open config file" in reason or "Is there a repository" in probe.stderr
        if not missing:
            raise BackupFailed(f"backup repository {self.repository}: {reason}")
        if not may_create:
            raise BackupFailed(f"backup repository {self.repository} is missing or unreachable "
                               f"({reason})")
        self._run("init")
        return True

    def unlock(self) -> None:
        """Remove locks left by a restic that died (kill -9 of the control plane)."""
        self._run("unlock", check=False)

    def backup(self, paths: list[Path], tags: list[str]) -> BackupResult:
        args = ["backup", "--json", "--quiet", "--host", HOST]
        for tag in tags:
            args += ["--tag", tag]
        proc = self._run(*args, *map(str, paths))
        summary = _summary(proc.stdout)
        return BackupResult(summary["snapshot_id"], int(summary.get("total_bytes_processed", 0)),
                            int(summary.get("data_added", 0)),
                            float(summary.get("total_duration", 0.0)))

    def snapshots(self, tag_filter: str | None = None, ids: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        args = ["snapshots", "--json"] + (["--tag", tag_filter] if tag_filter else []) + list(ids)
        found = json.loads(self._run(*args).stdout or "[]")
        return list(found or [])

    def dump(self, snapshot: str, path: str) -> bytes:
        return self._run("dump", snapshot, path, text=False).stdout  # type: ignore[no-any-return]

    def add_tag(self, snapshot: str, tag: str) -> str:
        """Tag a snapshot; restic rewrites it, so this returns the new snapshot's short id."""
        self._run("tag", "--add", tag, snapshot)
        for snap in self.snapshots(tag):
            if snap.get("original", "").startswith(snapshot) or snap["id"].startswith(snapshot):
                return str(snap["short_id"])
        raise BackupFailed(f"snapshot {snapshot} vanished while it was being tagged {tag!r}")

    def top_level(self, snapshot: str, folder: str) -> list[str]:
        """The names directly inside `folder` of the snapshot (`restic ls` is not recursive
        when given a folder)."""
        names = []
        for line in self._run("ls", "--json", snapshot, folder).stdout.splitlines():
            node = json.loads(line)
            if node.get("struct_type") == "node" and node.get("path", "").rsplit("/", 1)[0] == folder:
                names.append(node["name"])
        return sorted(names)

    def restore(self, snapshot: str, target: Path, include: str) -> None:
        self._run("restore", snapshot, "--target", str(target), "--include", include)

    def forget(self, snapshot: str) -> None:
        self._run("forget", "--prune", snapshot)

    def raw_size(self) -> int:
        """Bytes the repository holds (compressed, encrypted, deduplicated)."""
        stats = json.loads(self._run("stats", "--json", "--mode", "raw-data").stdout)
        return int(stats.get("total_size", 0))

    def _run(self, *args: str, check: bool = True, text: bool = True) -> subprocess.CompletedProcess[Any]:
        try:
            proc = subprocess.run([self.binary, *self._cache_args(), *args], env=self._env(),
                                  capture_output=True, text=text, check=False, timeout=6 * 3600)
        except FileNotFoundError:
            raise BackupFailed("restic is not installed (apt-get install restic)") from None
        if check and proc.returncode != 0:
            stderr = proc.stderr if text else proc.stderr.decode(errors="replace")
            raise BackupFailed(f"restic {args[0]} failed on {self.repository}: {_reason(stderr)}")
        return proc

    def _cache_args(self) -> list[str]:
        if self.cache_dir is None:
            return ["--no-cache"]
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return ["--cache-dir", str(self.cache_dir)]

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k.startswith(PASSTHROUGH_PREFIXES) or k in PASSTHROUGH}
        env.update(RESTIC_REPOSITORY=self.repository, RESTIC_PASSWORD_FILE=str(self.password_file),
                   RESTIC_PROGRESS_FPS="0.016")
        return env


def _summary(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            message = json.loads(line)
            if message.get("message_type") == "summary":
                return dict(message)
    raise BackupFailed("restic backup ended without a summary: no snapshot was saved")


def _reason(stderr: str) -> str:
    """restic's own reason, without its noise (progress, hints, stack traces)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line.removeprefix("Fatal: ") for line in lines if line.startswith("Fatal:")]
    chosen = fatal or lines[-2:] or ["no reason given"]
    return "; ".join(chosen)[:500]
