"""The control plane's core: projects, pushes, builds, deploys, and coming back after a restart.

Theory of operation: every unit of work is an activity, run in a worker
thread, one at a time per environment (a lock per environment). A push is
handled inside the repository's pre-receive hook: the hook streams the
activity log back to `git push`, and a failed validation or build rejects the
push. Processes (apps, Caddy) are detached from this process, so it can die
and come back (X1): on start it marks interrupted activities failed, starts
whatever of the active environments is not running, and releases any gate an
interrupted deploy left closed — without running any deploy hook.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipway.access import context as acting
from shipway.access.model import OPERATOR, Actor
from shipway.access.service import Access
from shipway.access.sshd import ssh_remote, ssh_settings
from shipway.artifacts.store import ArtifactStore
from shipway.backups.service import Backups
from shipway.build import memory
from shipway.build.disk import sweep
from shipway.build.pipeline import BuildHost, BuildRequest, build_app
from shipway.build.runtime import app_runtime, app_runtime_types, ensure_runtime, inventory
from shipway.config.frozen import thaw
from shipway.config.load import load_project
from shipway.config.model import AppConfig, ProjectConfig
from shipway.config.routes import Hosts, platform_routes, resolve_routes
from shipway.config.schema import NAME as APP_NAME
from shipway.config.stack import missing_packages
from shipway.cronrunner import CronRunner
from shipway.deploy import gate, mountviews
from shipway.deploy.driver import Driver, Previous
from shipway.deploy.flow import DeployOutcome, DeployPlanInput
from shipway.deploy.instances import (
    Instance,
    Launch,
    mount_base,
    prepare_dirs,
    running,
    start_process,
    stop_all,
    wait_listening,
    worker_view,
)
from shipway.deploy.listeners import check_own_listener, check_own_socket
from shipway.deploy.ports import allocate_port
from shipway.deploy.progress import DeployRecord, Deploys
from shipway.deploy.reach import app_port_access
from shipway.deploy.runenv import RunContext, runtime_environment
from shipway.deploy.states import FINAL, Recovery, recovery
from shipway.domains.service import DomainService
from shipway.environments import data as envdata
from shipway.environments import leftovers
from shipway.environments.masking import MaskedLog
from shipway.environments.names import check_environment_name
from shipway.environments.registry import PRODUCTION_BRANCH, Environment, Registry
from shipway.environments.variables import (
    FLAG_NAMES,
    Variable,
    Variables,
    build_visible,
    runtime_visible,
    updated,
)
from shipway.errors import (
    AppError,
    Cancelled,
    ConfigError,
    NotSupportedYet,
    PlatformError,
    RuntimeUnavailable,
    ShipwayError,
    UsageError,
    UserError,
)
from shipway.git.refs import check_updates
from shipway.git.repos import (
    ZERO_SHA,
    GitObjects,
    create_bare_repo,
    keep_pushed_objects,
    quarantine_env,
)
from shipway.homeperms import make_traversable, secure_home
from shipway.php import setup as php_setup
from shipway.ranges import PORTS_PER_INSTANCE
from shipway.releases.history import Release, Releases
from shipway.router.holdlog import HoldWindow, access_lines
from shipway.router.plan import Ports, RoutedApp, RoutedEnvironment, script_warning, sites
from shipway.sandbox import pids
from shipway.sandbox.firewall import ensure_isolation
from shipway.services import environment as envservices
from shipway.services import isolation, servers
from shipway.services.local import passwords as service_passwords
from shipway.services.relationships import AppEndpoint
from shipway.services.servers import ServiceInstance
from shipway.services.versions import choose_version
from shipway.settings import Settings
from shipway.state.activities import Activities, ActivityLog
from shipway.state.store import Store
from shipway.storage import Pool, open_pool
from shipway.webkind import WebKind, listens, web_kind

Log = Callable[[str], None]
MARKER_SETTLE_SECONDS = 0.1


def _host_command(name: str) -> bool:
    """A command the sandboxes see: they bind the host's /usr read-only."""
    return shutil.which(name, path="/usr/local/bin:/usr/bin:/bin") is not None


class Platform:
    def __init__(self, settings: Settings, router: Any) -> None:
        self.settings = settings
        home = settings.home
        self.store = Store(settings.db_path)
        self.registry = Registry(self.store, on_slot=self._clear_slot)
        self.access = Access(self.store, lambda p, e: self.registry.environment(p, e).type)
        self.activities = Activities(self.store, home / "activities")
        self.releases = Releases(self.store)
        self.variables = Variables(self.store)
        self.artifacts = ArtifactStore(home / "store" / "artifacts", home / "artifacts")
        self.router = router
        self.crons = CronRunner(self, settings.cron_deploy_wait)
        self.backups = Backups(self)
        # The ACME choice is the router's own (RouterControl.acme), so what
        # domain:add reports is what the router does; a test router may have none.
        self.domains = DomainService(self, self.registry, settings.domain,
                                     getattr(router, "acme", None), home / "router" / "storage",
                                     reserved=frozenset({settings.console_host}))
        self.pool: Pool
        self._configs: dict[tuple[str, str], ProjectConfig] = {}
        self._env_locks: dict[tuple[str, str], threading.Lock] = {}
        self._cancels: dict[str, threading.Event] = {}
        self._locks_guard = threading.Lock()
        self.deploys = Deploys(self.store)
        # S6: the router config is computed from full state under one lock, and
        # a deploy's new config is part of that state while it runs, so two
        # concurrent deploys never overwrite each other's routes.
        self._router_lock = threading.Lock()
        self._deploying: dict[tuple[str, str], tuple[Environment, ProjectConfig]] = {}

    # -- start-up ----------------------------------------------------------------

    def start(self) -> None:
        s = self.settings
        for sub in ("git", "builds", "cache", "u", "current", "tmp", "run"):
            (s.home / sub).mkdir(parents=True, exist_ok=True)
        secure_home(s.home)  # S3: what the router must reach, and nothing else
        os.chmod(s.home / "u", 0o755)
        self.artifacts.ensure_view()
        gate.ensure_run_view(s.home)  # S4: the router follows no symlink to an app socket
        gate.repoint_upstreams(s.home)
        self.artifacts.repoint_to_served(p for p in (s.home / "current").glob("*/*/*") if p.is_symlink())
        self.pool = open_pool(s.home, size_mb=s.data_pool_mb, mode=s.data_pool_mode)  # type: ignore[arg-type]
        print(f"shipway: environment data on {self.pool.method}", flush=True)
        for warning in self.pool.warnings:
            print(f"shipway: W: {warning}", flush=True)
        self._sweep_leftovers()
        self._guard_network()
        # No deploy runs yet: a hold marker left by an interrupted one is stale.
        for marker in gate.clear_holds(s.home):
            print(f"shipway: released the hold an interrupted deploy left ({marker.name})")
        self._bring_back()
        self.sync_router()
        self.collect_garbage()
        self.crons.start()
        self.backups.start_scheduler(self.backups.settings.tick_seconds)

    def _sweep_leftovers(self) -> None:
        """What a `kill -9` of the last control plane left behind."""
        s = self.settings
        for leftover in sweep(s.home / "builds"):  # build disks a kill -9 left mounted
            print(f"shipway: removed the build disk {leftover} left by an interrupted build")
        for group in [*pids.sweep(s.home), *memory.sweep(pids.instance_prefix(s.home))]:
            print(f"shipway: removed the empty cgroup {group} left by an interrupted process")
        for activity_id in self.activities.recover_interrupted():
            print(f"shipway: activity {activity_id} was interrupted by a restart; marked failed")
        for pid in self.backups.recover():
            print(f"shipway: continued process {pid} that an interrupted backup had paused")

    def _guard_network(self) -> None:
        s = self.settings
        ensure_isolation(s.firewall_table, s.build_uids)
        gate.ensure_tcp_gate(s.firewall_table, s.router_uid)
        ours = {row["port"] for row in self.store.all("SELECT port FROM ports")}
        for port in isolation.keep_within(s.firewall_table, s.port_base,
                                          s.port_base + PORTS_PER_INSTANCE - 1, ours):
            print(f"shipway: port {port} is outside this instance's range now; unguarded it")

    def _bring_back(self) -> None:
        """Finish or undo interrupted deploys (S6), then start every active environment (X1)."""
        for record in self.deploys.unfinished():
            try:
                self._recover_deploy(record)
            except ShipwayError as exc:  # left unfinished: the next start tries again
                print(f"shipway: W: cannot recover the deploy of activity {record.activity}: {exc}",
                      flush=True)
        for env in self.registry.environments():
            if env.status == "active" and env.current_release:
                try:
                    self._restore(env)
                except ShipwayError as exc:  # one app that cannot start must not keep the rest down
                    print(f"shipway: W: {env.project}/{env.name} did not come back: {exc}", flush=True)

    def _recover_deploy(self, record: DeployRecord) -> None:
        """S6: a deploy the last control plane did not finish; after this, `_restore`
        starts (without any hook) whatever the environment's current release lacks."""
        objects = GitObjects(self.repo_path(record.project))
        decision = recovery(record.state, objects.resolve(record.commit) is not None)
        env = self.registry.environment(record.project, record.environment)
        release = self.store.one("SELECT number FROM releases WHERE activity = ?", record.activity)
        if decision is Recovery.BRING_BACK:
            if record.state != "holding":  # from `replacing` on, the new processes may run
                for inst in self._previous_instances(env):
                    stop_all(inst)
            if release and env.current_release == release["number"]:
                self.releases.make_current(env.project, env.name, record.previous)
            said = (f"release v{record.previous} serves again" if record.previous
                    else "nothing was deployed")
            self.deploys.fire(record.activity, "recover_back")
        else:
            if release is None:
                release = {"number": self.releases.record(
                    env.project, env.name, record.commit, record.builds, record.config,
                    activity=record.activity, trigger=record.trigger).number}
            if record.sets_head and self.registry.environment(env.project, env.name).head_commit \
                    != record.commit:
                objects.git("update-ref", f"refs/heads/{env.name}", record.commit)
                self.registry.set_head(env.project, env.name, record.commit)
            said = f"release v{release['number']} is current; no hook was run again"
            self.deploys.fire(record.activity, "recover_forward")
        message = (f"the control plane was killed while this deploy was {record.state}; "
                   f"after the restart: {said}")
        ActivityLog(self.activities.log_path(record.activity)).line(f"E: {message}")
        print(f"shipway: {env.project}/{env.name}: {message}", flush=True)

    def _restore(self, env: Environment) -> None:
        """Bring an environment's processes back after a restart or a reboot (X1)."""
        release = self.releases.get(env.project, env.name, env.current_release or 0)
        config = self._config_at(env.project, release.commit)
        variables = release.config.get("variables", {})
        self._guard_app_ports(env, config)
        for line in envservices.expose_all(self._services(env, config), config,
                                           self.settings.firewall_table, self.settings.app_uid(env.slot)):
            print(f"shipway: {env.project}/{env.name}: {line}", flush=True)
        for app in config.apps:
            launch = self._launch(env, app, release.builds, config, variables)
            for process in (launch, *self._worker_launches(launch, env, config, variables)):
                if not running(process):
                    prepare_dirs(process)
                    start_process(process)
            self._serve(launch, log=print)

    # -- projects ----------------------------------------------------------------

    def create_project(self, name: str) -> dict[str, str]:
        project = self.registry.create_project(name)
        repo = self.repo_path(name)
        create_bare_repo(repo, self.settings.home)
        info = {"name": project.name, "id": project.id, "git_remote": str(repo)}
        remote = ssh_remote(ssh_settings(self.settings.home, self.settings.listen_host),
                            self.settings.domain, name)
        return {**info, "ssh_remote": remote} if remote else info

    def repo_path(self, project: str) -> Path:
        return self.settings.home / "git" / f"{project}.git"

    # -- pushes ------------------------------------------------------------------

    def accept_push(self, project_name: str, updates: list[dict[str, str]],
                    git_env: dict[str, str], options: list[str],
                    actor: Actor = OPERATOR) -> list[str]:
        """Record a push; start an activity for each branch to deploy; return their ids."""
        self.registry.project(project_name)
        check_updates(updates)  # S7: the whole push is refused before any branch builds
        opts = dict(o.split("=", 1) for o in options if "=" in o)
        repo = self.repo_path(project_name)
        objects = GitObjects(repo, quarantine_env(repo, git_env))
        self._authorize_push(project_name, updates, opts, actor, objects)  # A1: every ref first
        ids = []
        for update in updates:
            if not update["ref"].startswith("refs/heads/") or update["new"] == ZERO_SHA:
                continue
            branch = update["ref"].removeprefix("refs/heads/")
            env = self.registry.ensure_environment(
                project_name, branch, active=opts.get("environment.status") == "active",
                type_=opts.get("environment.type"), parent=opts.get("environment.parent"),
            )
            commit, old = update["new"], update["old"]

            def work(log: Log, activity_id: str, env: Environment = env, commit: str = commit,
                     old: str = old) -> bool:
                self._check_fast_forward(env, old)
                if env.status != "active":
                    self.registry.set_head(env.project, env.name, commit)
                    log(f"Environment '{env.name}' is inactive: the code is stored, nothing is deployed.")
                    log(f"Activate it with `shipway environment:activate -p {env.project} {env.name}`"
                        " or push with `-o environment.status=active`.")
                    return True
                # S6: if this control plane dies, git refuses the push and drops
                # its quarantine; a deploy that went far enough still needs the code.
                keep_pushed_objects(objects, commit)
                try:
                    return self._deploy_commit(env, commit, objects, log, activity_id,
                                               trigger="push", new_code=True)
                finally:
                    if self.activities.get(activity_id).details.get("deployed"):
                        self.registry.set_head(env.project, env.name, commit)

            ids.append(self._start_activity(env, "environment.push", f"push to {branch}", work))
        return ids

    def _authorize_push(self, project: str, updates: list[dict[str, str]], opts: dict[str, str],
                        actor: Actor, objects: GitObjects) -> None:
        """A1, per updated ref: an existing environment needs `push` on its type (`force-push`
        when the update is not a fast-forward), a new branch `branch` on the type it will get;
        deleting a branch deletes its environment (`deactivate`); other refs (tags) are the
        project admin's. Raises before any change."""
        known = {e.name: e for e in self.registry.environments(project)}
        for update in updates:
            ref = update["ref"]
            branch = ref.removeprefix("refs/heads/")
            if not ref.startswith("refs/heads/"):
                self.access.require(actor, "project:admin", project)
                continue
            if branch in known:
                action = "deactivate" if update["new"] == ZERO_SHA else "push"
                self.access.require(actor, action, project, branch)
                if action == "push" and update["old"] != ZERO_SHA \
                        and not objects.is_ancestor(update["old"], update["new"]):
                    self.access.require(actor, "force-push", project, branch)
                parent = known[branch].parent
            elif update["new"] != ZERO_SHA:
                kind = "production" if branch == PRODUCTION_BRANCH else (
                    opts.get("environment.type") or "development")
                self.access.require(actor, "branch", project, branch, env_type=kind)
                parent = None if branch == PRODUCTION_BRANCH else (
                    opts.get("environment.parent") or PRODUCTION_BRANCH)
            else:
                continue
            activates = opts.get("environment.status") == "active" and update["new"] != ZERO_SHA \
                and (branch not in known or known[branch].status != "active")
            if activates and parent:  # E2: its data is cloned from the parent: reading it
                self.access.require(actor, "branch", project, parent)

    def _check_fast_forward(self, env: Environment, old: str) -> None:
        """E4: of two pushes racing to one branch, the later is refused before it deploys.

        Both pre-receive hooks run at once and queue on the environment; git
        would refuse the later ref update only after its deploy. Here the
        later one sees that the branch moved while it waited."""
        head = self.registry.environment(env.project, env.name).head_commit
        expected = None if old == ZERO_SHA else old
        if head is not None and head != expected:
            raise UserError(
                f"rejected (non-fast-forward): branch {env.name!r} moved to {head[:7]} while this "
                "push waited for another one; fetch, merge or rebase, and push again")

    def _deploy_commit(self, env: Environment, commit: str, objects: GitObjects, log: Log,
                       activity_id: str, *, trigger: str, new_code: bool,
                       restore_data: str | None = None) -> bool:
        """Validate, build (or reuse) and deploy `commit` with the current variables;
        `restore_data`: a snapshot ref the environment's data is replaced with first."""
        variables = self.variables.effective(env.project, self.registry.lineage(env.project, env.name))
        config = self._read_config(objects, commit, log, self._config_dir(env.project))
        cancel = self._cancels.get(activity_id)
        builds = self._build_all(env, config, commit, objects, log, build_visible(variables), cancel)
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        sensitive = sorted(v.name for v in variables if v.is_sensitive)
        return self._deploy(env, config, commit, builds, runtime_visible(variables), log,
                            trigger=trigger, activity_id=activity_id, rerun_deploy_hook=new_code,
                            sensitive=sensitive, restore_data=restore_data)

    # -- environments (E1) ---------------------------------------------------------

    def activate(self, project: str, name: str) -> dict[str, Any]:
        env = self.registry.environment(project, name)
        if env.status == "active" and env.current_release:
            raise UserError(f"environment {name!r} is already active")
        if not env.head_commit:
            raise UserError(f"branch {name!r} has no code yet; push it first")
        env = self.registry.ensure_environment(project, name, active=True, type_=None, parent=None)
        return {"activity": self._deploy_head(env, "environment.activate", f"activate {name}")}

    def branch(self, project: str, name: str, parent_name: str, type_: str | None) -> dict[str, Any]:
        """`environment:branch NEW PARENT`: a git branch at the parent's head, active and deployed."""
        parent = self.registry.environment(project, parent_name)
        if not parent.head_commit:
            raise UserError(f"parent {parent_name!r} has no code yet")
        check_environment_name(name)  # S7: before its git ref is made
        objects = GitObjects(self.repo_path(project))
        if objects.resolve(f"refs/heads/{name}"):
            raise UserError(f"branch {name!r} already exists; use environment:activate")
        if type_ not in (None, "development", "staging"):
            raise UsageError("a new environment's type is development or staging")
        objects.git("update-ref", f"refs/heads/{name}", parent.head_commit)
        env = self.registry.ensure_environment(project, name, active=True, type_=type_,
                                               parent=parent_name)
        self.registry.set_head(project, name, parent.head_commit)
        env = self.registry.environment(project, name)
        return {"activity": self._deploy_head(env, "environment.branch",
                                               f"branch {name} from {parent_name}")}

    def _deploy_head(self, env: Environment, type_: str, description: str) -> str:
        commit = env.head_commit or ""

        def work(log: Log, activity_id: str) -> bool:
            log(f"Deploying {env.name} at {commit[:7]}")
            return self._deploy_commit(env, commit, GitObjects(self.repo_path(env.project)), log,
                                       activity_id, trigger=type_.removeprefix("environment."),
                                       new_code=True)

        return self._start_activity(env, type_, description, work)

    def deactivate(self, project: str, name: str) -> dict[str, Any]:
        """Free an environment's processes, data and routes; its branch stays."""
        env = self.registry.environment(project, name)
        if env.type == "production":
            raise UserError("the production environment cannot be deactivated")
        with self._env_lock(project, name):
            self.crons.cancel(env)
            if env.current_release:
                release = self.releases.get(project, name, env.current_release)
                config = self._config_at(project, release.commit)
                envservices.retire_all(self._services(env, config), self.settings.firewall_table)
            shutil.rmtree(self.settings.home / "services" / project / name, ignore_errors=True)
            for inst in self._previous_instances(env):  # C6a: no view may pin the volume
                mountviews.release(self._mount_views(inst))
            envdata.drop(self.pool, project, name)
            for inst in self._previous_instances(env):
                stop_all(inst)
                gate.hold_socket(inst.upstream_socket)
                self.current_link(inst).unlink(missing_ok=True)
            for sub in ("run", "data", "current"):
                shutil.rmtree(self.settings.home / sub / project / name, ignore_errors=True)
            if env.slot is not None:  # S5: nothing of its uids may meet the slot's next owner
                self._clear_slot(env.slot)
            self.registry.deactivate(project, name)
        self.sync_router()
        return {"message": f"environment {name!r} is inactive; its branch and code are kept"}

    def _clear_slot(self, slot: int) -> None:
        """Kill whatever still runs as the slot's app or service uid (both its alone)."""
        uids = (self.settings.app_uid(slot), self.settings.service_uid(slot))
        if killed := leftovers.kill_all(uids):
            print(f"shipway: killed {len(killed)} leftover process(es) of uids "
                  f"{uids[0]}/{uids[1]} (slot {slot})", flush=True)

    def set_environment_property(self, project: str, name: str, prop: str, value: str) -> dict[str, Any]:
        """`environment:info -e X type staging` and friends."""
        env = self.registry.environment(project, name)
        if prop != "type":
            raise NotSupportedYet(f"setting the environment property {prop!r} is not supported yet "
                                  "(supported: type)")
        if env.type == "production" or value not in ("staging", "development"):
            raise UsageError("type is staging or development, and production's cannot change")
        self.registry.set_type(project, name, value)
        return {"message": f"{name}: type is now {value}; it applies at the next deploy "
                           "(`shipway redeploy`)"}

    def cancel_activity(self, activity_id: str) -> dict[str, str]:
        """B8: stop a pending or building activity; a deploy in progress is not interrupted."""
        activity = self.activities.get(activity_id)
        log = ActivityLog(self.activities.log_path(activity_id)).line
        if activity.state == "complete":
            raise UserError(f"activity {activity_id} has already completed ({activity.result})")
        if activity.state == "pending":
            log("E: cancelled before it started")
            self.activities.fire(activity_id, "cancel")
            return {"activity": activity_id, "message": "cancelled before it started"}
        event = self._cancels.get(activity_id)
        if event is None:
            raise UserError(f"activity {activity_id} ({activity.type}) cannot be cancelled")
        log("Cancellation requested")
        event.set()
        return {"activity": activity_id, "message": "cancellation requested; a build stops within "
                "seconds, a deploy already under way completes"}

    # -- redeploy, rollback, variables ---------------------------------------------

    def redeploy(self, project: str, env_name: str) -> str:
        """D8: same commit, builds reused unless build-visible variables changed; only
        post_deploy runs again."""
        env = self._deployed(project, env_name)
        release = self.releases.get(project, env_name, env.current_release or 0)

        def work(log: Log, activity_id: str) -> bool:
            return self._deploy_commit(env, release.commit, GitObjects(self.repo_path(project)), log,
                                       activity_id, trigger="redeploy", new_code=False)

        return self._start_activity(env, "environment.redeploy", f"redeploy {env_name}", work)

    def rollback(self, project: str, env_name: str, target: str | None, with_data: bool = False) -> str:
        """R2: make an earlier release current again, without building. Data stays as it is,
        unless `with_data`: then the snapshot taken before the next deploy's hook comes back."""
        env = self._deployed(project, env_name)
        release = self._rollback_target(env, target)
        restore_ref = self._data_before_release_after(env, release) if with_data else None

        def work(log: Log, activity_id: str) -> bool:
            log(f"Rolling back to release {release.id} (commit {release.commit[:7]})")
            for app, key in release.builds.items():
                if not self.artifacts.has(key):
                    raise UserError(f"the build of '{app}' for {release.id} is no longer stored; "
                                    "push that commit again to rebuild it")
            config = self._config_at(project, release.commit)
            return self._deploy(env, config, release.commit, dict(release.builds),
                                dict(release.config.get("variables", {})), log,
                                trigger=f"rollback to {release.id}"
                                        + (" with data" if restore_ref else ""),
                                activity_id=activity_id, rerun_deploy_hook=False,
                                sensitive=list(release.config.get("sensitive_variables", [])),
                                restore_data=restore_ref)

        return self._start_activity(env, "environment.rollback", f"rollback {env_name} to {release.id}",
                                    work)

    def _data_before_release_after(self, env: Environment, target: Release) -> str:
        """The data as it was when `target` served: the snapshot taken before the hook of
        the deploy that came next."""
        later = [r for r in self.releases.list(env.project, env.name) if r.number > target.number
                 and r.config.get("data_snapshot")]
        if not later:
            raise UserError(f"no data snapshot follows {target.id}: snapshots are taken before each "
                            f"deploy hook and the last {self.settings.data_snapshots} are kept")
        ref = str(min(later, key=lambda r: r.number).config["data_snapshot"])
        name, _, tag = ref.partition("@")
        if tag not in {s.name for s in self.pool.snapshots(name)}:
            raise UserError(f"the data snapshot after {target.id} was pruned (only the last "
                            f"{self.settings.data_snapshots} are kept; SHIPWAY_DATA_SNAPSHOTS)")
        return ref

    def _rollback_target(self, env: Environment, target: str | None) -> Release:
        history = self.releases.list(env.project, env.name)
        if target is None:
            older = [r for r in history if r.number < (env.current_release or 0)]
            if not older:
                raise UserError(f"environment {env.name!r} has no earlier release to roll back to")
            return older[0]
        number = target.removeprefix("v")
        if not number.isdigit():
            raise UsageError(f"release ids look like v3, not {target!r}; `shipway release:list` shows them")
        return self.releases.get(env.project, env.name, int(number))

    def _deployed(self, project: str, env_name: str) -> Environment:
        env = self.registry.environment(project, env_name)
        if env.status != "active" or not env.current_release:
            raise UserError(f"environment {env_name!r} is not deployed; push to it or activate it first")
        return env

    def variable_list(self, project: str, environment: str | None) -> list[Variable]:
        self.registry.project(project)
        if environment:
            self.registry.environment(project, environment)
        return self.variables.list(project, environment)

    def put_variable(self, project: str, request: dict[str, Any]) -> dict[str, Any]:
        """variable:create (`create`: true) or variable:update, as the API receives them."""
        env = request.get("environment") or ""
        level = request.get("level") or ("environment" if env else "project")
        if level == "project":
            env = ""
        elif not env:
            raise UsageError("an environment-level variable needs -e ENVIRONMENT")
        flags = {k: request.get(k) for k in FLAG_NAMES}
        name = request["name"]
        if request.get("create"):
            defaults = {"visible_build": level == "project", "visible_runtime": True,
                        "is_json": False, "is_sensitive": False, "is_inheritable": True,
                        "is_enabled": True}
            fields = {k: defaults[k] if v is None else v for k, v in flags.items()}
            var = Variable(project, env, name, str(request.get("value", "")), **fields)
            return self.set_variable(var, create=True)
        old = (self.variables.get(project, env, name) if request.get("level")
               else self.variables.find(project, env or None, name))
        value = request.get("value")
        return self.set_variable(updated(old, value=None if value is None else str(value), **flags),
                                 create=False)

    def set_variable(self, var: Variable, *, create: bool) -> dict[str, Any]:
        """E3: store it; an environment-level change redeploys that environment."""
        self.registry.project(var.project)
        if var.environment:
            self.registry.environment(var.project, var.environment)
        self.variables.put(var, create=create)
        return self._after_variable_change(var)

    def delete_variable(self, project: str, environment: str | None, name: str) -> dict[str, Any]:
        var = self.variables.find(project, environment, name)
        self.variables.delete(var)
        return self._after_variable_change(var)

    def _after_variable_change(self, var: Variable) -> dict[str, Any]:
        out: dict[str, Any] = {"variable": var.as_json(), "activity": None, "message": ""}
        if not var.environment:
            out["message"] = ("The remote environment(s) must be redeployed for the change to take "
                              "effect (`shipway redeploy`).")
            return out
        env = self.registry.environment(var.project, var.environment)
        if env.status != "active" or not env.current_release:
            out["message"] = (f"Environment {env.name!r} is not deployed; "
                              "the variable applies at its next deploy.")
            return out
        release = self.releases.get(env.project, env.name, env.current_release)

        def work(log: Log, activity_id: str) -> bool:
            log(f"Variable {var.name!r} changed on {env.name!r}: redeploying")
            return self._deploy_commit(env, release.commit, GitObjects(self.repo_path(env.project)),
                                       log, activity_id, trigger=f"variable {var.name}", new_code=False)

        out["activity"] = self._start_activity(env, "environment.variable.update",
                                               f"variable {var.name} on {env.name}", work)
        return out

    def _start_activity(self, env: Environment, type_: str, description: str,
                        work: Callable[[Log, str], bool]) -> str:
        activity = self.activities.create(env.project, env.name, type_, description,
                                          triggered_by=acting.label())
        self._cancels[activity.id] = threading.Event()
        self._spawn(activity.id, env, lambda log: work(log, activity.id))
        return activity.id

    def _spawn(self, activity_id: str, env: Environment, work: Callable[[Log], bool]) -> None:
        thread = threading.Thread(
            target=self._run_activity, args=(activity_id, env, work), daemon=True,
            name=f"activity-{activity_id}",
        )
        thread.start()

    def _run_activity(self, activity_id: str, env: Environment, work: Callable[[Log], bool]) -> None:
        with self._env_lock(env.project, env.name):
            log = self.activity_log(activity_id, env)  # the variables as they are now
            if self.activities.get(activity_id).state != "pending":
                return  # cancelled while it waited for the environment
            self.activities.fire(activity_id, "start")
            ok = False
            try:
                ok = work(log)
            except Cancelled as exc:
                log(f"E: {exc}; nothing was deployed and the running release keeps serving")
                self.activities.fire(activity_id, "cancel")
                return
            except ConfigError as exc:
                log("E: Error parsing configuration files:")
                for issue in exc.issues:
                    log(f"    - {issue}")
                log("E: Error: Invalid configuration files, aborting build")
            except ShipwayError as exc:
                log(f"E: {exc}")
            except Exception:  # an unexpected platform bug: keep the trace on the activity
                log("E: internal error in shipway:")
                for line in traceback.format_exc().splitlines():
                    log(f"    {line}")
            finally:
                self._cancels.pop(activity_id, None)
            self.activities.fire(activity_id, "finish", "success" if ok else "failure")

    def activity_log(self, activity_id: str, env: Environment) -> Log:
        """The activity's log; sensitive variable values and the service
        passwords that exist by now never reach it (S3)."""
        variables = self.variables.effective(env.project, self.registry.lineage(env.project, env.name))
        sensitive = [v.value for v in variables if v.is_sensitive]

        def secrets() -> list[str]:
            return [*sensitive, *service_passwords(self.settings.home, env.project, env.name)]

        return MaskedLog(ActivityLog(self.activities.log_path(activity_id)).line, secrets)

    def _env_lock(self, project: str, env: str) -> threading.Lock:
        with self._locks_guard:
            return self._env_locks.setdefault((project, env), threading.Lock())

    # -- config and builds -------------------------------------------------------

    def _config_dir(self, project: str) -> str:
        return self.registry.project(project).config_dir or ".upsun"

    def _read_config(self, objects: GitObjects, commit: str, log: Log,
                     config_dir: str = ".upsun") -> ProjectConfig:
        log("Validating configuration files")
        src = self.settings.home / "tmp" / f"config-{commit}-{threading.get_ident()}"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        try:
            for name in objects.export(commit, src, links_inside=True):
                log(f"W: {name} is a symlink leading out of the repository: not read for config")
            config = load_project(src, prefer=config_dir)
        finally:
            shutil.rmtree(src, ignore_errors=True)
        for warning in config.warnings:
            log(f"W: {warning}")
        return config

    def _config_at(self, project: str, commit: str) -> ProjectConfig:
        # A commit never changes, so neither does its config: read it once.
        key = (project, commit)
        if key not in self._configs:
            objects = GitObjects(self.repo_path(project))
            self._configs[key] = self._read_config(objects, commit, lambda _: None,
                                                   self._config_dir(project))
        return self._configs[key]

    def collect_garbage(self) -> list[str]:
        """B7: drop artifacts no release refers to, once older than the retention."""
        keep = {key for row in self.store.all("SELECT builds FROM releases")
                for key in json.loads(row["builds"]).values()}
        removed = self.artifacts.collect(keep, older_than=self.settings.artifact_retention)
        for key in removed:
            print(f"shipway: removed unused artifact {key}", flush=True)
        return removed

    # -- crons ---------------------------------------------------------------------

    def env_busy(self, env: Environment) -> bool:
        return self._env_lock(env.project, env.name).locked()

    def crons_of(self, env: Environment) -> list[tuple[AppConfig, str, Any]]:
        release = self.releases.get(env.project, env.name, env.current_release or 0)
        config = self._config_at(env.project, release.commit)
        return [(app, name, cron) for app in config.apps for name, cron in sorted(app.crons.items())]

    def web_launch(self, env: Environment, app_name: str) -> Launch:
        env = self.registry.environment(env.project, env.name)
        release = self.releases.get(env.project, env.name, env.current_release or 0)
        config = self._config_at(env.project, release.commit)
        return self._launch(env, config.app(app_name), release.builds, config,
                            release.config.get("variables", {}))

    def shell_launch(self, project: str, env_name: str, app_name: str | None) -> Launch:
        """A4: the web process's launch of `app_name` (default: the only app) in a
        running environment — what `shipway ssh` runs its shell as."""
        env = self._deployed(project, env_name)
        release = self.releases.get(env.project, env.name, env.current_release or 0)
        config = self._config_at(env.project, release.commit)
        if app_name is None:
            if len(config.apps) != 1:
                names = ", ".join(a.name for a in config.apps)
                raise UsageError(f"environment {env_name!r} has several apps ({names}): "
                                 "name one with --app")
            app_name = config.apps[0].name
        return self.web_launch(env, app_name)

    def _build_all(self, env: Environment, config: ProjectConfig, commit: str,
                   objects: GitObjects, log: Log, build_variables: dict[str, str],
                   cancel: threading.Event | None = None) -> dict[str, str]:
        project = self.registry.project(env.project)
        host = BuildHost(
            store=self.artifacts, work_root=self.settings.home / "builds",
            cache_root=self.settings.home / "cache", uid=self.settings.build_uid,
            timeout=self.settings.build_timeout,
            extra_passthrough=self.settings.passthrough_env,
            home=self.settings.home,
            disk_mb=self.settings.build_disk_mb, memory_mb=self.settings.build_memory_mb,
            pids_max=self.settings.build_pids,
            nearest_runtime=self._nearest(env),
        )
        self._check_versions(env, config, log)
        for app in config.apps:
            if scripts := script_warning(app):
                log(f"W: {scripts}")
            if web_kind(app) is WebKind.FPM and (php := php_setup.check(app)):
                log(f"W: {php}")  # variables.php and runtime.extensions, before any build
        builds = {}
        for app in config.apps:
            tree = objects.tree_id(commit, app.source_root)
            req = BuildRequest(project.id, project.entropy, app, commit, tree, build_variables)
            previous = self._latest_build(env.project, app.name)
            result = build_app(req, objects, host, log, previous, cancel)
            if not result.reused:
                self.store.execute(
                    "INSERT OR REPLACE INTO builds VALUES (?, ?, ?, ?, ?)",
                    result.key, env.project, app.name, tree, time.time(),
                )
            builds[app.name] = result.key
        return builds

    def _check_versions(self, env: Environment, config: ProjectConfig, log: Log) -> None:
        """A runtime or service version that cannot be had fails the push before
        any build, and every one missing is named at once (C11)."""
        nearest, missing = self._nearest(env), []
        for app in config.apps:
            for type_ in app_runtime_types(app):
                try:
                    runtime = ensure_runtime(type_, self.settings.home, nearest, log)
                except RuntimeUnavailable as exc:
                    missing.append(f"app '{app.name}': {exc}")
                    continue
                if runtime.warning:
                    log(f"W: {runtime.warning}")
            missing += [f"app '{app.name}': {m}" for m in missing_packages(app.packages, _host_command)]
        for name, inst in self._services(env, config).items():
            installed, notes = servers.available_versions(inst)
            try:
                choose_version(inst.kind, inst.service.version, installed, nearest=nearest)
            except PlatformError as exc:
                missing.append(" ".join([f"service '{name}': {exc}", *notes]))
        if missing:
            raise RuntimeUnavailable(f"{len(missing)} version(s) cannot be had on this host:\n  "
                                     + "\n  ".join(missing))

    def _latest_build(self, project: str, app: str) -> str | None:
        row = self.store.one(
            "SELECT key FROM builds WHERE project = ? AND app = ? ORDER BY created_at DESC LIMIT 1",
            project, app,
        )
        return row["key"] if row else None

    # -- deploys -----------------------------------------------------------------

    def _deploy(self, env: Environment, config: ProjectConfig, commit: str, builds: dict[str, str],
                variables: dict[str, Any], log: Log, *, trigger: str, activity_id: str,
                rerun_deploy_hook: bool, sensitive: list[str],
                restore_data: str | None = None) -> bool:
        self._ensure_data(env, log)
        envdata.limit(self.pool, env.project, env.name, config, log)
        services = self._services(env, config)
        _, warnings = envservices.prepare(services, nearest=self._nearest(env))
        for warning in warnings:
            log(f"W: {warning}")
        launches = {app.name: self._launch(env, app, builds, config, variables) for app in config.apps}
        self._guard_app_ports(env, config)
        previous = self._previous_instances(env)
        restore, served = self._previous_release(env)
        self.crons.drain(env, log)
        plan = DeployPlanInput(
            apps=tuple(launches),
            deploy_hooks=frozenset(a.name for a in config.apps if a.hooks.deploy),
            post_deploy_hooks=frozenset(a.name for a in config.apps if a.hooks.post_deploy),
            post_start=frozenset(a.name for a in config.apps if a.web.post_start),
            rerun_deploy_hook=rerun_deploy_hook, has_previous=served is not None,
        )
        workers = [w for web in launches.values()
                   for w in self._worker_launches(web, env, config, variables)]
        taken: dict[str, str | None] = {}

        def before_mount() -> None:
            if restore_data:  # rollback --with-data: nothing may use the volume meanwhile
                envservices.retire_all(services, self.settings.firewall_table)
                envdata.restore(self.pool, env.project, env.name, restore_data, log)

        def before_hooks() -> None:
            if rerun_deploy_hook:
                taken["ref"] = envdata.snapshot_before_hook(
                    self.pool, env.project, env.name, f"pre-{activity_id}",
                    self.settings.data_snapshots, log)

        window = HoldWindow(self.settings.home / "router" / "access.log",
                            {route.host for route in self._routes(env, config)})

        def hold(inst: Instance) -> None:
            window.begin()
            self._hold(inst)

        def serve(launch: Launch, log: Log) -> None:
            self._serve(launch, log)
            window.finish()

        driver = Driver(launches, workers, previous, log, hold=hold, serve=serve,
                        holding=self.router.holding,
                        expose=lambda: envservices.expose_all(
                            services, config, self.settings.firewall_table,
                            self.settings.app_uid(env.slot)),
                        before_mount=before_mount, before_hooks=before_hooks,
                        await_start=self._await_start, restore=restore,
                        advance=lambda event: self.deploys.fire(activity_id, event))

        def on_serve() -> None:
            release = self.releases.record(
                env.project, env.name, commit, builds,
                {**_snapshot(config, variables, sensitive), "data_snapshot": taken.get("ref")},
                activity=activity_id, trigger=trigger,
            )
            # Deployed, whatever the hooks do next: a push must not be rejected now.
            self.activities.set_details(activity_id, deployed=True, release=release.id)

        with self._router_lock:
            self._deploying[(env.project, env.name)] = (env, config)
        try:
            self.sync_router()
            self.deploys.begin(activity_id, env.project, env.name, commit, builds,
                               _snapshot(config, variables, sensitive), trigger,
                               served.number if served else None, sets_head=trigger == "push")
            outcome = driver.run(plan, on_serve=on_serve)
        finally:
            # A deploy that failed before serving must not leave its apps
            # holding every request for the hold limit (D2).
            for inst in {*previous, *(launch.instance for launch in launches.values())}:
                gate.end_hold(gate.hold_marker(inst))
            self._deploy_ended(env, activity_id)
        self._report_deploy(activity_id, driver, window, log)
        _refuse_unstarted(outcome, served)
        if outcome.failed_hooks:
            log(f"E: deployed, but these hooks failed: {', '.join(outcome.failed_hooks)}")
        return outcome.ok

    def _deploy_ended(self, env: Environment, activity_id: str) -> None:
        """Served, brought back or raised: record it, and route what now serves."""
        if self.deploys.state(activity_id) not in (*FINAL, None):
            self.deploys.fire(activity_id, "abort")
        with self._router_lock:
            self._deploying.pop((env.project, env.name), None)
        self.sync_router()

    def _previous_release(self, env: Environment) -> tuple[Previous, Release | None]:
        """The release serving now, and how to start it again if the new one cannot start."""
        number = self.registry.environment(env.project, env.name).current_release
        if not number:
            return Previous(), None
        release = self.releases.get(env.project, env.name, number)
        config = self._config_at(env.project, release.commit)
        variables = release.config.get("variables", {})
        webs = {app.name: self._launch(env, app, release.builds, config, variables)
                for app in config.apps}
        workers = [w for web in webs.values() for w in self._worker_launches(web, env, config, variables)]
        return Previous(webs, workers), release

    def _await_start(self, launch: Launch) -> str | None:
        """None once the new web process listens; else why it did not start (S6)."""
        if not listens(launch.app):
            return None
        try:
            wait_listening(launch, self._port_of(launch), timeout=min(self.settings.hold_seconds, 120))
        except AppError as exc:
            return str(exc)
        return None

    def _report_deploy(self, activity_id: str, driver: Driver, window: HoldWindow, log: Log) -> None:
        """D2 and the timeline: how long requests waited, how many, and each phase's duration."""
        figures = window.figures()
        if figures is not None:
            log(f"  Requests: {figures.summary()}")
            self.activities.set_details(activity_id, held_requests=figures.waited,
                                        longest_hold_seconds=figures.longest,
                                        shed_requests=figures.shed)
        self.activities.set_details(
            activity_id, held_seconds=round(driver.held_seconds, 3),
            timeline=[{"phase": p, "seconds": round(t, 3)} for p, t in driver.timeline],
        )
        log("Deploy timeline:")
        for phase, seconds in driver.timeline:
            log(f"  {phase:<16} {seconds:8.3f} s")

    def _ensure_data(self, env: Environment, log: Log) -> None:
        """The environment's volume; a new one is cloned from its parent's (E2)."""
        parent = self.registry.environment(env.project, env.parent) if env.parent else None
        envdata.ensure(self.pool, env.project, env.name, parent.name if parent else None, log,
                       **self._clone_helpers(env, parent, log))

    def _clone_helpers(self, env: Environment, parent: Environment | None, log: Log) -> dict[str, Any]:
        owners = {}
        if parent is not None and parent.slot is not None:  # an inactive parent has no data
            owners = {self.settings.app_uid(parent.slot): self.settings.app_uid(env.slot),
                      self.settings.service_uid(parent.slot): self.settings.service_uid(env.slot)}

        def pause_parent() -> Callable[[], None]:
            if parent is None or not parent.current_release:
                return lambda: None
            release = self.releases.get(parent.project, parent.name, parent.current_release)
            config = self._config_at(parent.project, release.commit)
            services = self._services(parent, config)
            envservices.retire_all(services, self.settings.firewall_table)
            return lambda: log("\n".join(envservices.expose_all(
                services, config, self.settings.firewall_table, self.settings.app_uid(parent.slot))))

        return {"owners": owners, "pause_parent": pause_parent}

    def merge(self, project: str, name: str) -> dict[str, Any]:
        """`environment:merge`: the child's code goes up to its parent (a fast-forward),
        which is then deployed; data never moves."""
        child = self.registry.environment(project, name)
        if not child.parent or not child.head_commit:
            raise UserError(f"environment {name!r} has no parent or no code to merge")
        parent = self._deployed(project, child.parent)
        objects = GitObjects(self.repo_path(project))
        head = parent.head_commit or ZERO_SHA
        try:
            objects.git("merge-base", "--is-ancestor", head, child.head_commit)
        except PlatformError:
            raise UserError(f"{parent.name!r} has commits that {name!r} lacks: merge or rebase in "
                            "git and push, then merge again") from None
        objects.git("update-ref", f"refs/heads/{parent.name}", child.head_commit, head)
        self.registry.set_head(project, parent.name, child.head_commit)
        return {"activity": self._deploy_head(self.registry.environment(project, parent.name),
                                               "environment.merge", f"merge {name} into {parent.name}")}

    def synchronize_data(self, project: str, name: str) -> dict[str, Any]:
        """E2 `environment:synchronize data`: re-clone the parent's data, then redeploy."""
        env = self._deployed(project, name)
        if not env.parent:
            raise UserError(f"environment {name!r} has no parent to synchronize from")
        parent = self.registry.environment(project, env.parent)
        release = self.releases.get(project, name, env.current_release or 0)

        def work(log: Log, activity_id: str) -> bool:
            config = self._config_at(project, release.commit)
            for inst in self._previous_instances(env):
                stop_all(inst)
            envservices.retire_all(self._services(env, config), self.settings.firewall_table)
            envdata.resync(self.pool, project, name, parent.name, log,
                           **self._clone_helpers(env, parent, log))
            return self._deploy_commit(env, release.commit, GitObjects(self.repo_path(project)), log,
                                       activity_id, trigger="synchronize data", new_code=False)

        return {"activity": self._start_activity(env, "environment.synchronize",
                                                 f"synchronize data of {name} from {parent.name}", work)}

    def _previous_instances(self, env: Environment) -> list[Instance]:
        run = self.settings.home / "run" / env.project / env.name
        if not run.is_dir():
            return []
        return [Instance(self.settings.home, env.project, env.name, p.name)
                for p in sorted(run.iterdir()) if p.is_dir()]

    def _launch(self, env: Environment, app: AppConfig, builds: dict[str, str],
                config: ProjectConfig, variables: dict[str, Any]) -> Launch:
        """How to run the web process of `app` in `env` (workers: `_worker_launches`)."""
        return self._process(env, app, builds[app.name], config, variables, self._web_port(env, app))

    def _web_port(self, env: Environment, app: AppConfig) -> int | None:
        """The TCP port `app` listens on in `env`; None when it listens on a unix socket."""
        if app.web.socket_family != "tcp":
            return None
        return allocate_port(self.store, env.project, env.name, app.name, self.settings.port_base)

    def _guard_app_ports(self, env: Environment, config: ProjectConfig) -> None:
        """S4: before the apps listen, only the router, root and related apps may connect."""
        ports = {app.name: port for app in config.apps
                 if (port := self._web_port(env, app)) is not None}
        uid = self.settings.app_uid(env.slot)
        access = app_port_access(config.apps, ports, {app.name: uid for app in config.apps},
                                 self.settings.router_uid)
        for port, uids in sorted(access.items()):
            isolation.allow(self.settings.firewall_table, port, uids)

    def _process(self, env: Environment, app: AppConfig, key: str, config: ProjectConfig,
                 variables: dict[str, Any], port: int | None, process: str = "web",
                 command: str | None = None) -> Launch:
        project = self.registry.project(env.project)
        runtime = app_runtime(app, self.settings.home, self._nearest(env))
        instance = Instance(self.settings.home, env.project, env.name, app.name)
        endpoints, _ = envservices.prepare(self._services(env, config), nearest=self._nearest(env))
        view = envservices.app_view(app, config, endpoints,
                                    cluster=f"{project.id}-{env.machine_name}",
                                    hosts_path=instance.run_dir / f"hosts-{process}",
                                    apps=self._app_endpoints(env, app, config))
        ctx = RunContext(
            project_id=project.id, project_entropy=project.entropy, branch=env.name,
            machine_name=env.machine_name, environment_type=env.type,
            tree_id=(self.artifacts.inputs(key) or {}).get("tree", ""),
            routes=platform_routes(self._routes(env, config)), relationships=view.relationships,
            user_variables=variables, port=port,
        )
        return Launch(
            instance=instance, app=app,
            artifact=self.artifacts.path(key), uid=self.settings.app_uid(env.slot),
            gid=self.settings.apps_gid, router_gid=self.settings.router_uid,
            env={**view.variables, **runtime_environment(app, ctx, runtime.path_dirs)},
            runtime_binds=(*runtime.binds, view.hosts_bind), process=process, command=command,
            pids_max=self.settings.app_pids,
        )

    def _app_endpoints(self, env: Environment, app: AppConfig, config: ProjectConfig
                       ) -> dict[str, AppEndpoint]:
        """The other apps `app` has relationships to, and where they listen."""
        named = {rel.service for rel in app.relationships.values()}
        return {other.name: AppEndpoint(other.type, self._web_port(env, other))
                for other in config.apps if other.name in named}

    def _services(self, env: Environment, config: ProjectConfig) -> dict[str, ServiceInstance]:
        return envservices.instances(
            self.settings.home, env.project, env.name, config, uid=self.settings.service_uid(env.slot),
            port_for=lambda name: allocate_port(self.store, env.project, env.name, f"service:{name}",
                                                self.settings.port_base),
        )

    def _nearest(self, env: Environment) -> bool:
        policy = self.registry.project(env.project).version_policy or self.settings.version_policy
        return policy == "nearest"

    def project_info(self, name: str, prop: str | None, value: str | None) -> dict[str, Any]:
        """`project:info -p P [version_policy [nearest]]`."""
        if prop is not None and value is not None:
            if prop not in ("version_policy", "config_dir"):
                raise NotSupportedYet(f"setting the project property {prop!r} is not supported yet "
                                      "(supported: version_policy, config_dir)")
            setter = self.registry.set_version_policy if prop == "version_policy" \
                else self.registry.set_config_dir
            setter(name, value)
            self._configs.clear()  # the config read from a commit depends on config_dir
        info = self.registry.project(name).as_json()
        info["effective_version_policy"] = info["version_policy"] or self.settings.version_policy
        return info

    def runtimes(self) -> list[dict[str, str]]:
        return [{"language": i.language, "version": i.version, "origin": i.origin.value,
                 "bin_dir": str(i.bin_dir)} for i in inventory(self.settings.home)]

    def _worker_launches(self, web: Launch, env: Environment, config: ProjectConfig,
                         variables: dict[str, Any]) -> list[Launch]:
        """D9: each worker runs the same artifact, with its own overrides and no inbound traffic."""
        key = web.artifact.name
        return [
            self._process(env, worker_view(web.app, name), key, config, variables, None,
                          process=f"worker-{name}", command=worker.start)
            for name, worker in sorted(web.app.workers.items())
        ]

    def _routes(self, env: Environment, config: ProjectConfig) -> tuple[Any, ...]:
        return resolve_routes(config.routes, self.hosts(env))

    def hosts(self, env: Environment) -> Hosts:
        """T1: production resolves against the project's domains; every other
        environment keeps its generated host. No environment ever gets another
        project's domain."""
        own = self.domains.domains
        names = own.names(env.project) if env.type == "production" else ()
        return Hosts(self.default_host(env), names, own.foreign(env.project),
                     frozenset({self.settings.console_host}))

    def default_host(self, env: Environment) -> str:
        return f"{env.machine_name}.{env.project}.{self.settings.domain}"

    def _serve(self, launch: Launch, log: Log) -> None:
        """Make `launch` the one the router reaches: switch static files, open the gate."""
        try:
            self._open(launch)
        finally:
            # After the gate opened (or failed to): from now on a down app gets
            # a quick 503 instead of a hold.
            gate.end_hold(gate.hold_marker(launch.instance))

    def _mount_views(self, inst: Instance) -> Path:
        return mountviews.views_dir(self.settings.home, inst.upstream_socket.stem)

    def _ensure_mount_views(self, launch: Launch) -> None:
        """C6a: the mounts a location serves, as the router reads them (no symlink followed)."""
        app = launch.app
        mounts = {rel: (mount_base(launch, app.mounts[rel].source), app.mounts[rel])
                  for rel in mountviews.served(app)}
        if mounts:
            mountviews.ensure(self._mount_views(launch.instance), mounts, self.settings.router_uid)

    def _open(self, launch: Launch) -> None:
        self._ensure_mount_views(launch)
        link = self.current_link(launch.instance)
        tmp = link.with_name(link.name + ".new")
        tmp.unlink(missing_ok=True)
        # The router's view of the artifact: it follows no symlink in it (S2).
        tmp.symlink_to(self.artifacts.served_path(launch.artifact.name))
        os.replace(tmp, link)
        if not listens(launch.app):
            return
        port = self._port_of(launch)
        wait_listening(launch, port, timeout=min(self.settings.hold_seconds, 120))
        if launch.app.web.socket_family == "unix":
            check_own_socket(launch.instance.new_socket, launch.uid)  # S4: not a link to another's
            gate.release_socket(gate.routed_socket(launch.instance), launch.instance.upstream_socket)
        elif port is not None:
            check_own_listener(port, launch.uid)  # S4: never open the gate to a squatter
            gate.release_port(self.settings.firewall_table, port)

    def _hold(self, inst: Instance) -> None:
        # The marker first: no request may see the gate closed and no deploy running.
        gate.begin_hold(gate.hold_marker(inst))
        # A request the router matched just before the marker existed dials right after;
        # give it time to reach the old release before its socket or port goes away.
        time.sleep(MARKER_SETTLE_SECONDS)
        gate.hold_socket(inst.upstream_socket)
        row = self.store.one(
            "SELECT port FROM ports WHERE project = ? AND environment = ? AND app = ?",
            inst.project, inst.environment, inst.app,
        )
        if row:
            gate.hold_port(self.settings.firewall_table, row["port"])

    def _port_of(self, launch: Launch) -> int | None:
        port = launch.env.get("PORT")
        return int(port) if port else None

    def current_link(self, inst: Instance) -> Path:
        path = self.settings.home / "current" / inst.project / inst.environment / inst.app
        make_traversable(self.settings.home, path.parent)  # the router serves through it
        return path

    # -- router ------------------------------------------------------------------

    def sync_router(self) -> None:
        """Load the routes of every environment: its current release, or the config
        of the deploy under way. One at a time, each from fresh state (S6), so a
        sync never loads a table that lacks what another one just added."""
        with self._router_lock:
            deploying = dict(self._deploying)
            routed = []
            for env in self.registry.environments():
                key = (env.project, env.name)
                if key in deploying:
                    routed.append(self._routed(*deploying[key]))
                elif env.status == "active" and env.current_release:
                    release = self.releases.get(env.project, env.name, env.current_release)
                    routed.append(self._routed(env, self._config_at(env.project, release.commit)))
            self.router.apply(sites(routed, Ports(self.settings.http_port, self.settings.https_port)))

    def _routed(self, env: Environment, config: ProjectConfig) -> RoutedEnvironment:
        """What the router needs of an environment: where each app listens, its
        static roots and hold marker. From config and state alone: no launch
        (runtime shims, service credentials, hosts files) is computed for it."""
        apps = {}
        for app in config.apps:
            instance = Instance(self.settings.home, env.project, env.name, app.name)
            port = self._web_port(env, app)
            dial = f"127.0.0.1:{port}" if port else f"unix/{instance.upstream_socket}"
            views = mountviews.view_paths(app, self._mount_views(instance))
            apps[app.name] = RoutedApp(app, dial, str(self.current_link(instance)),
                                       hold_marker=str(gate.hold_marker(instance)),
                                       mount_views=views)
        return RoutedEnvironment(self._routes(env, config), apps)

    # -- queries -----------------------------------------------------------------

    def url(self, project: str, env_name: str) -> list[dict[str, Any]]:
        env = self.registry.environment(project, env_name)
        if not env.current_release:
            raise UserError(f"environment {env_name!r} has not been deployed yet")
        release = self.releases.get(project, env_name, env.current_release)
        config = self._config_at(project, release.commit)
        routes = self._routes(env, config)
        out = []
        for route in routes:
            if route.type != "upstream":
                continue
            port = self.settings.https_port if route.scheme == "https" else self.settings.http_port
            default = 443 if route.scheme == "https" else 80
            url = route.url if port == default else route.url.replace(
                f"{route.scheme}://{route.host}", f"{route.scheme}://{route.host}:{port}", 1)
            out.append({"url": url, "primary": route.primary, "original_url": route.original_url})
        out.sort(key=lambda r: not r["primary"])
        return out

    LOG_FILES = {"deploy": "deploy.log", "post-deploy": "post-deploy.log", "app": "app.log"}

    def log_text(self, project: str, env_name: str, kind: str, app: str | None, lines: int) -> str:
        """E4 `log`: the tail of one of an app's log files."""
        env = self.registry.environment(project, env_name)
        if kind in ("access", "error"):
            return self._router_log(env, kind == "error", lines)
        name = self.LOG_FILES.get(kind) or (f"{kind}.log" if kind.startswith("worker-") else None)
        if name is None:
            raise UsageError(f"unknown log {kind!r}; choose one of: {', '.join(self.LOG_FILES)}, "
                             "access, error, worker-NAME")
        apps = sorted(p.name for p in (self.settings.home / "logs" / project / env.name).glob("*"))
        if app is not None and not APP_NAME.fullmatch(app):  # A1: a name, never a path elsewhere
            raise UsageError(f"invalid app name {app!r}")
        if app is None and len(apps) > 1:
            raise UsageError(f"this environment has several apps ({', '.join(apps)}); pick one with --app")
        app = app or (apps[0] if apps else "app")
        path = Instance(self.settings.home, project, env.name, app).log(name)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"

    def _router_log(self, env: Environment, errors_only: bool, lines: int) -> str:
        """The router's access log for this environment's hosts (`error`: its 5xx answers)."""
        path = self.settings.home / "router" / "access.log"
        if not env.current_release or not path.exists():
            return ""
        release = self.releases.get(env.project, env.name, env.current_release)
        hosts = {r.host for r in self._routes(env, self._config_at(env.project, release.commit))}
        with path.open(errors="replace") as f:
            found = access_lines(f, hosts, errors_only)
        return "".join(f"{line}\n" for line in found[-lines:])

    def environment(self, project: str, name: str) -> Environment:
        return self.registry.environment(project, name)

    def environments(self, project: str) -> list[Environment]:
        self.registry.project(project)
        return self.registry.environments(project)

    def activity_list(self, project: str, env: str | None) -> list[Any]:
        self.registry.project(project)
        return self.activities.list(project, env)

    def release_list(self, project: str, env: str) -> list[Release]:
        self.registry.environment(project, env)
        return self.releases.list(project, env)

    def activity(self, activity_id: str) -> Any:
        return self.activities.get(activity_id)



def _refuse_unstarted(outcome: DeployOutcome, served: Release | None) -> None:
    """S6: the new release did not start; say so, and what serves instead."""
    if not outcome.start_failures:
        return
    back = (f"release {served.id} (commit {served.commit[:7]}) was started again and serves"
            if served and outcome.restored else "nothing serves")
    raise AppError(f"the new release did not start ({'; '.join(outcome.start_failures)}): "
                   f"{back}; nothing was deployed")


def _snapshot(config: ProjectConfig, variables: dict[str, Any], sensitive: list[str]) -> dict[str, Any]:
    """The config part of a release: the files as read from the commit, and the
    runtime variables it ran with (a rollback restores them, as Heroku's does)."""
    return {
        "applications": {a.name: thaw(a.raw) for a in config.apps},
        "routes": [r.template for r in config.routes],
        "services": sorted(config.services),
        "variables": variables,
        "sensitive_variables": sensitive,
    }
