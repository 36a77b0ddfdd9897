"""The backup use cases (BK1–BK5): create, list, get, restore, delete, each as the
platform's activities, over the restic executor and the data pool.

A backup (`create`) takes the environment's volume as one btrfs snapshot —
with its processes paused for that instant unless `live` (freeze.py) — and
hands that read-only tree plus `meta/` to restic. A restore brings the tree
back into a scratch volume of the pool, snapshots it, and deploys through
the normal path with that snapshot as its data (`restore_data`: the one
rollback --with-data uses), so requests are held and the processes
restarted as in any deploy (D2). The running environment is touched only
by that deploy: a failing repository fails the activity before it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipway.backups import freeze
from shipway.backups.config import BackupSettings, backup_settings
from shipway.backups.model import (
    BUNDLE_FILE,
    META_DIR,
    META_FILE,
    VERIFIED,
    Backup,
    BackupMeta,
    filter_tags,
    from_snapshot,
    newest_first,
)
from shipway.backups.password import ensure_password
from shipway.backups.restic import BackupFailed, Restic
from shipway.backups.schedule import Policy, due, parse_interval, to_forget
from shipway.backups.schedules import Schedules, policy_of, start_ticker
from shipway.deploy.instances import stop_all
from shipway.environments import data as envdata
from shipway.environments.registry import Environment
from shipway.errors import NotFound, UsageError, UserError
from shipway.git.repos import GitObjects
from shipway.services import environment as envservices
from shipway.storage import reown

if TYPE_CHECKING:
    from shipway.platform import Platform

Log = Callable[[str], None]
SNAPSHOT = "backup"     # one fixed name: restic finds the previous backup by its path


class Backups:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings: BackupSettings = backup_settings(platform.settings.home)
        self.schedules = Schedules(self.settings.work_dir / "schedules.json")

    def recover(self) -> list[int]:
        """At start-up: continue any environment a backup paused when the control plane
        died (kill -9 between stop and resume would leave it stopped for good)."""
        s = self.platform.settings
        uids = [u for env in self.platform.registry.environments()
                for u in (s.app_uid(env.slot), s.service_uid(env.slot))]
        return freeze.resume_all(uids)

    # -- create ------------------------------------------------------------------

    def create(self, project: str, environment: str, live: bool, scheduled: bool = False) -> str:
        env = self.platform._deployed(project, environment)
        if live and not self.platform.pool.atomic_snapshots:
            raise UserError(f"--live needs atomic snapshots, and the data pool is "
                            f"{self.platform.pool.method}; back up without --live")

        def work(log: Log, activity_id: str) -> bool:
            ok = self._create(env, live, log, activity_id, scheduled)
            if ok and scheduled:
                self._prune(env, log)
            return ok

        kind = "scheduled backup" if scheduled else "backup"
        return self.platform._start_activity(
            env, "environment.backup", f"{kind} of {environment}" + (" (live)" if live else ""), work)

    def _create(self, env: Environment, live: bool, log: Log, activity_id: str,
                scheduled: bool = False) -> bool:
        p = self.platform
        env = p.registry.environment(env.project, env.name)
        release = p.releases.get(env.project, env.name, env.current_release or 0)
        log(f"Backing up {env.project}/{env.name}: release {release.id}, commit {release.commit[:7]}")
        restic = self._restic(log, create=True)
        restic.unlock()
        meta = BackupMeta(
            project=env.project, environment=env.name, environment_type=env.type,
            commit=release.commit, release=release.id, live=live,
            app_uid=p.settings.app_uid(env.slot), service_uid=p.settings.service_uid(env.slot),
            apps_gid=p.settings.apps_gid, created_at=time.time(), scheduled=scheduled,
        )
        meta_dir = self._stage_meta(env, meta)
        try:
            data = self._snapshot(env, live, log, activity_id)
            try:
                result = restic.backup([data, meta_dir], meta.tags())
                log(f"  Repository: snapshot {result.snapshot_id} saved in {result.seconds:.1f} s: "
                    f"{_mb(result.bytes_processed)} read, {_mb(result.bytes_added)} added")
                backup_id = self._verify(restic, result.snapshot_id, data, meta_dir, meta)
            finally:
                p.pool.delete_snapshot(f"{envdata.volume_name(env.project, env.name)}@{SNAPSHOT}")
        finally:
            shutil.rmtree(meta_dir.parent, ignore_errors=True)
        p.activities.set_details(activity_id, backup=backup_id, bytes_added=result.bytes_added,
                                 bytes_processed=result.bytes_processed)
        log(f"Backup {backup_id} verified and listed: `shipway backup:restore {backup_id} "
            f"-p {env.project}` restores it")
        return True

    def _stage_meta(self, env: Environment, meta: BackupMeta) -> Path:
        """`meta/`: backup.json and the project's git history, at a fixed path per environment."""
        meta_dir = self.settings.work_dir / "staging" / env.project / env.name / META_DIR
        shutil.rmtree(meta_dir, ignore_errors=True)
        meta_dir.mkdir(parents=True, mode=0o700)
        (meta_dir / META_FILE).write_bytes(meta.to_json())
        repo = GitObjects(self.platform.repo_path(env.project))
        repo.git("bundle", "create", str(meta_dir / BUNDLE_FILE), "--branches", "--tags")
        return meta_dir

    def _snapshot(self, env: Environment, live: bool, log: Log, activity_id: str) -> Path:
        """The volume as one read-only tree; without `live`, taken while the environment's
        processes are stopped (freeze.py)."""
        p, name = self.platform, envdata.volume_name(env.project, env.name)
        if SNAPSHOT in {s.name for s in p.pool.snapshots(name)}:
            p.pool.delete_snapshot(f"{name}@{SNAPSHOT}")  # left by an interrupted backup
        if live:
            started = time.monotonic()
            path = p.pool.snapshot(name, SNAPSHOT)
            log(f"  Data: live snapshot in {(time.monotonic() - started) * 1000:.0f} ms, "
                "nothing paused")
            return path
        p.pool.flush()  # so the snapshot inside the pause only waits for the latest writes
        uids = (p.settings.app_uid(env.slot), p.settings.service_uid(env.slot))
        started = time.monotonic()
        stopped: list[int] = []
        try:
            stopped = freeze.stop(uids)
            path = p.pool.snapshot(name, SNAPSHOT)
        finally:
            freeze.resume(stopped)
            paused = time.monotonic() - started
        p.activities.set_details(activity_id, pause_seconds=round(paused, 4))
        log(f"  Data: snapshot with writes paused for {paused * 1000:.0f} ms "
            f"({len(stopped)} processes stopped, requests waited)")
        return path

    def _verify(self, restic: Restic, snapshot: str, data: Path, meta_dir: Path,
                meta: BackupMeta) -> str:
        """BK5: the repository lists the snapshot, gives back the exact backup.json and the
        volume's top level; only then is it tagged verified (and so listed)."""
        problem = None
        listed = restic.snapshots(ids=(snapshot,))
        if len(listed) != 1:
            problem = "the repository does not list it"
        elif restic.dump(snapshot, str(meta_dir / META_FILE)) != meta.to_json():
            problem = "backup.json read back differs from what was written"
        elif restic.top_level(snapshot, str(data)) != sorted(os.listdir(data)):
            problem = "the data's top level read back differs from the volume's"
        if problem:
            restic.forget(snapshot)
            raise BackupFailed(f"verification of snapshot {snapshot} failed: {problem}; "
                               "it was removed")
        return restic.add_tag(snapshot, VERIFIED)

    # -- list, get, delete --------------------------------------------------------

    def list(self, project: str, environment: str | None) -> list[dict[str, Any]]:
        """What the repository holds for `project`: verified backups, newest first. The
        project need not exist here (a fresh machine, BK3)."""
        restic = self._restic(None, create=False)
        found = [b for s in restic.snapshots(filter_tags(project, environment))
                 if (b := from_snapshot(s)) is not None]
        return [b.as_json() for b in newest_first(found)]

    def get(self, project: str, backup_id: str) -> dict[str, Any]:
        restic = self._restic(None, create=False)
        backup = self._find(restic, project, backup_id)
        meta = self._meta(restic, backup)
        return {**backup.as_json(), "environment_type": meta.environment_type,
                "created_at_unix": meta.created_at, "repository": self.settings.repository}

    def delete(self, project: str, backup_id: str) -> str:
        restic = self._restic(None, create=False)
        backup = self._find(restic, project, backup_id)

        def work(log: Log, activity_id: str) -> bool:
            log(f"Deleting backup {backup.id} of {project}/{backup.environment} and pruning "
                "data no other backup uses")
            restic.unlock()
            restic.forget(backup.full_id)
            log(f"Backup {backup.id} deleted")
            return True

        return self.platform._start_activity(self._env_or_stub(project, backup.environment),
                                             "environment.backup.delete",
                                             f"delete backup {backup.id}", work)

    def schedule(self, project: str, environment: str, request: dict[str, Any]) -> dict[str, Any]:
        """`backup:schedule`: show, set (`every`, `keep_daily`, `keep_weekly`) or remove (`off`)
        the environment's automated backups (BK4)."""
        self.platform.registry.environment(project, environment)
        if request.get("off"):
            self.schedules.put(project, environment, None)
        elif request.get("every"):
            self.schedules.put(project, environment, Policy(
                parse_interval(str(request["every"])), int(request.get("keep_daily") or 7),
                int(request.get("keep_weekly") or 4)))
        return {"project": project, "environment": environment,
                "schedule": self.schedules.get(project, environment)}

    def start_scheduler(self, seconds: float) -> None:
        self._ticker = start_ticker(self.tick, seconds)

    def tick(self, now: float | None = None) -> list[str]:
        """Start the automated backups that are due; the activities started."""
        now = time.time() if now is None else now
        started = []
        for key, entry in self.schedules.all().items():
            project, _, environment = key.partition("/")
            try:
                env = self.platform.registry.environment(project, environment)
            except NotFound:
                continue
            if (env.status != "active" or not env.current_release or self.platform.env_busy(env)
                    or not due(policy_of(entry), entry.get("last_run"), now)):
                continue
            self.schedules.ran(project, environment, now)
            started.append(self.create(project, environment, live=False, scheduled=True))
        return started

    def _prune(self, env: Environment, log: Log) -> None:
        entry = self.schedules.get(env.project, env.name)
        if entry is None:
            return
        restic = self._restic(None, create=False)
        automated = [b for s in restic.snapshots(filter_tags(env.project, env.name) + ",scheduled")
                     if (b := from_snapshot(s)) is not None]
        doomed = to_forget([(b.id, b.taken) for b in automated], policy_of(entry))
        for backup_id in doomed:
            restic.forget(backup_id)
        log(f"  Retention: kept {len(automated) - len(doomed)} automated backups, "
            f"deleted {len(doomed)}" + (f" ({', '.join(doomed)})" if doomed else ""))

    # -- restore -------------------------------------------------------------------

    def restore(self, project: str, backup_id: str, target: str | None, no_code: bool) -> str:
        p = self.platform
        restic = self._restic(None, create=False)
        backup = self._find(restic, project, backup_id)
        meta = self._meta(restic, backup)
        name = target or backup.environment
        if project not in {pr.name for pr in p.registry.projects()}:
            if no_code:
                raise UsageError(f"project {project!r} does not exist here: restore it with its "
                                 "code (without --no-code)")
            p.create_project(project)
        existing = {e.name: e for e in p.registry.environments(project)}.get(name)
        if no_code and (existing is None or not existing.current_release):
            raise UsageError(f"--no-code needs {name!r} to be deployed already")
        env = p.registry.ensure_environment(
            project, name, active=True, parent=None,
            type_=meta.environment_type if meta.environment_type != "production" else None)

        def work(log: Log, activity_id: str) -> bool:
            return self._restore(restic, backup, meta, env, no_code, log, activity_id)

        return p._start_activity(env, "environment.backup.restore",
                                 f"restore backup {backup.id} into {name}", work)

    def _restore(self, restic: Restic, backup: Backup, meta: BackupMeta, env: Environment,
                 no_code: bool, log: Log, activity_id: str) -> bool:
        p = self.platform
        env = p.registry.environment(env.project, env.name)
        log(f"Restoring backup {backup.id} ({meta.project}/{meta.environment}, {meta.release}, "
            f"commit {meta.commit[:7]}, taken {backup.created_at}) into {env.name}")
        objects = GitObjects(p.repo_path(env.project))
        if no_code:
            commit = p.releases.get(env.project, env.name, env.current_release or 0).commit
            log(f"  Code: kept at {commit[:7]} (--no-code)")
        else:
            commit = meta.commit
            self._restore_code(restic, backup, objects, env, commit, log)
        ref, scratch = self._restore_data(restic, backup, meta, env, log)
        trigger = f"restore of backup {backup.id}"
        try:
            if self._same_credentials(scratch, env):  # the deploy swaps the data while holding
                return p._deploy_commit(env, commit, objects, log, activity_id, trigger=trigger,
                                        new_code=False, restore_data=ref)
            self._replace_stopped(env, ref, log)
            return p._deploy_commit(env, commit, objects, log, activity_id, trigger=trigger,
                                    new_code=False)
        finally:
            p.pool.delete(scratch)

    def _same_credentials(self, scratch: str, env: Environment) -> bool:
        """Whether the backup's services know the same users and passwords as the running
        environment's. A deploy computes its apps' credentials before it swaps the data, so
        only then may the swap happen inside the deploy's hold."""
        p = self.platform
        if not env.current_release or not p.pool.exists(envdata.volume_name(env.project, env.name)):
            return False
        ours = p.pool.path(envdata.volume_name(env.project, env.name))
        theirs = p.pool.path(scratch)
        return _service_records(ours) == _service_records(theirs)

    def _replace_stopped(self, env: Environment, ref: str, log: Log) -> None:
        """Put the backup's data in place before the deploy, with everything stopped."""
        p = self.platform
        if env.current_release:
            log("  Data: the backup's service credentials differ from this environment's: it is "
                "stopped while its data is replaced (requests are not held meanwhile)")
            release = p.releases.get(env.project, env.name, env.current_release)
            config = p._config_at(env.project, release.commit)
            for inst in p._previous_instances(env):
                stop_all(inst)
            envservices.retire_all(p._services(env, config), p.settings.firewall_table)
        envdata.restore(p.pool, env.project, env.name, ref, log)

    def _restore_code(self, restic: Restic, backup: Backup, objects: GitObjects,
                      env: Environment, commit: str, log: Log) -> None:
        if objects.resolve(commit) is None:
            bundle = self._scratch_dir(env) / BUNDLE_FILE
            bundle.write_bytes(restic.dump(backup.id, f"{backup.meta_path}/{BUNDLE_FILE}"))
            objects.git("fetch", "--quiet", str(bundle),
                        f"+refs/heads/*:refs/shipway-backups/{backup.id}/heads/*")
            bundle.unlink()
            log(f"  Code: history brought back from the backup into {objects.repo.name}")
        objects.git("update-ref", f"refs/heads/{env.name}", commit)
        self.platform.registry.set_head(env.project, env.name, commit)
        log(f"  Code: branch {env.name} set to {commit[:7]}")

    def _restore_data(self, restic: Restic, backup: Backup, meta: BackupMeta, env: Environment,
                      log: Log) -> tuple[str, str]:
        """The backup's volume as a snapshot of a scratch volume; (its ref, the scratch name)."""
        p, started = self.platform, time.monotonic()
        scratch = envdata.volume_name(env.project, f"{env.name}.restoring")
        if p.pool.exists(scratch):
            p.pool.delete(scratch)
        root = p.pool.create(scratch)
        landing = root / ".restic"
        try:
            restic.restore(backup.id, landing, include=backup.data_path)
        except BaseException:
            p.pool.delete(scratch)  # nothing of the environment was touched yet
            raise
        tree = landing / backup.data_path.lstrip("/")
        for entry in os.listdir(tree):
            os.rename(tree / entry, root / entry)  # one subvolume: renames, no copies
        shutil.rmtree(landing)
        settings = p.settings
        owners = {meta.app_uid: settings.app_uid(env.slot),
                  meta.service_uid: settings.service_uid(env.slot), meta.apps_gid: settings.apps_gid}
        reown(root, {old: new for old, new in owners.items() if old != new})
        p.pool.snapshot(scratch, "restore")
        log(f"  Data: {_mb(_size(root))} brought back from the repository in "
            f"{time.monotonic() - started:.1f} s")
        return f"{scratch}@restore", scratch

    # -- helpers --------------------------------------------------------------------

    def _restic(self, log: Log | None, *, create: bool) -> Restic:
        s = self.settings
        if not create and not s.password_file.exists():
            raise UserError(f"no backup password at {s.password_file}: set "
                            "SHIPWAY_BACKUP_PASSWORD_FILE to the repository's password file")
        if ensure_password(s.password_file) and log:
            log(f"  Backup password generated in {s.password_file} (root only). Keep a copy off "
                "this machine: without it no backup can be restored.")
        restic = Restic(s.repository, s.password_file, cache_dir=s.work_dir / "cache")
        # Created on first use only: once this machine has used a repository, a missing one is
        # an unmounted disk or a lost network, and a new empty repository would hide that.
        known = self._known_repository.read_text().strip() if self._known_repository.exists() else ""
        if restic.ensure_repository(may_create=create and known != s.repository) and log:
            log(f"  Backup repository initialised at {s.repository}")
        if known != s.repository:
            self._known_repository.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._known_repository.write_text(s.repository + "\n")
        if log and (warning := self._same_disk_warning()):
            log(f"W: {warning}")
        return restic

    @property
    def _known_repository(self) -> Path:
        return self.settings.work_dir / "repository"

    def _same_disk_warning(self) -> str | None:
        local = self.settings.local_repository
        if local is None or not local.exists():
            return None
        if os.stat(local).st_dev != os.stat(self.platform.settings.home).st_dev:
            return None
        return (f"the backup repository {local} is on the same disk as SHIPWAY_HOME: it does not "
                "survive losing that disk; set SHIPWAY_BACKUP_REPOSITORY to another disk or a "
                "remote (sftp:, s3:)")

    def _find(self, restic: Restic, project: str, backup_id: str) -> Backup:
        if not backup_id.isalnum():
            raise UsageError(f"backup ids look like 1a2b3c4d, not {backup_id!r}")
        for snap in restic.snapshots(filter_tags(project)):
            backup = from_snapshot(snap)
            if backup and (backup.id.startswith(backup_id) or backup.full_id.startswith(backup_id)):
                return backup
        raise NotFound(f"no verified backup {backup_id!r} of project {project!r} in "
                       f"{self.settings.repository}; `shipway backup:list -p {project}` shows them")

    def _meta(self, restic: Restic, backup: Backup) -> BackupMeta:
        return BackupMeta.from_json(restic.dump(backup.id, f"{backup.meta_path}/{META_FILE}"))

    def _scratch_dir(self, env: Environment) -> Path:
        path = self.settings.work_dir / "scratch" / env.project / env.name
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def _env_or_stub(self, project: str, name: str) -> Environment:
        """The environment the activity is filed under; it may not exist on this machine."""
        try:
            return self.platform.registry.environment(project, name)
        except NotFound:
            return Environment(project, name, machine_name=name, type="", status="inactive",
                               parent=None, head_commit=None, slot=-1, current_release=None)


def _service_records(volume: Path) -> dict[str, bytes]:
    """Each service's `service.json` (its users and passwords: services/servers.py)."""
    return {p.parent.name: p.read_bytes() for p in sorted(volume.glob("services/*/service.json"))}


def _size(root: Path) -> int:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB"
