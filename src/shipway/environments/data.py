"""An environment's persistent data as one volume (E2, rollback with data).

Everything an environment keeps — app mounts under `apps/<app>/`, service
data under `services/<name>/` — lives in one volume of the storage pool, so
a single snapshot of it is consistent (crash-consistent on btrfs, which
PostgreSQL, MariaDB and Redis recover from). Branching clones the parent's
volume; each deploy snapshots it just before the deploy hook.

Disk. The volume is limited to the sum of the `disk` of every app, worker
and service (`disk_budget`), on what it writes beyond what it shares with
its parent (storage/quota.py). One limit for the whole environment, not one
per app or service: a limit per directory would need a volume each, and a
btrfs snapshot does not descend into nested volumes, which would break the
one consistent snapshot above. So an app can use what a service leaves
free, but the environment as a whole cannot take more than its config says.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from shipway.config.model import ProjectConfig
from shipway.storage import Pool, reown, scrub_clone

Log = Callable[[str], None]


def volume_name(project: str, environment: str) -> str:
    return f"{project}/{environment}"


def volume_path(home: Path, project: str, environment: str) -> Path:
    """Where the pool keeps the volume (storage/naming.py: `<home>/volumes/vol/<name>`).

    Derived from names alone, so paths of mounts and service data can be
    computed without the pool at hand."""
    return home / "volumes" / "vol" / project / environment


# A service without `disk` still keeps data (Platform.sh requires the key
# for disk services); it counts as this much.
SERVICE_DISK_MB = 512


def disk_budget(config: ProjectConfig) -> dict[str, int]:
    """MB of disk per app and worker that asks for one, and per service (pure)."""
    budget = {}
    for app in config.apps:
        if app.disk:
            budget[app.name] = app.disk
        for name, worker in app.workers.items():
            if worker.disk:  # each worker has a disk of its own on Platform.sh
                budget[f"{app.name}--{name}"] = worker.disk
    for name, service in sorted(config.services.items()):
        budget[name] = service.disk or SERVICE_DISK_MB
    return budget


def limit(pool: Pool, project: str, environment: str, config: ProjectConfig, log: Log) -> None:
    """Hold the environment's volume to its config's disk budget (none: no limit)."""
    budget = disk_budget(config)
    total = sum(budget.values()) or None
    warning = pool.limit(volume_name(project, environment), total)
    if warning:
        log(f"W: disk limits not enforced: {warning}")
    elif total:
        parts = ", ".join(f"{name} {mb}" for name, mb in budget.items())
        log(f"  Data: volume limited to {total} MB ({parts})")


def ensure(pool: Pool, project: str, environment: str, parent: str | None, log: Log, *,
           owners: Mapping[int, int], pause_parent: Callable[[], Callable[[], None]]) -> None:
    """Create the environment's volume, cloned from its parent's when there is one (E2)."""
    name = volume_name(project, environment)
    if pool.exists(name):
        return
    source = volume_name(project, parent) if parent else None
    if source is None or not pool.exists(source):
        pool.create(name)
        log(f"  Data: new empty volume ({pool.method})")
        return
    # A copy is only consistent when nothing writes to the parent meanwhile.
    resume = (lambda: None) if pool.atomic_snapshots else pause_parent()
    started = time.monotonic()
    try:
        pool.clone(source, name)
    finally:
        resume()
    cloned = time.monotonic() - started
    path = pool.path(name)
    stale = scrub_clone(path)
    reown(path, owners)
    log(f"  Data: cloned from '{parent}' in {cloned * 1000:.0f} ms by {pool.method}"
        + (f"; removed {len(stale)} stale lock file(s)" if stale else ""))


def resync(pool: Pool, project: str, environment: str, parent: str, log: Log, *,
           owners: Mapping[int, int], pause_parent: Callable[[], Callable[[], None]]) -> None:
    """`environment:synchronize data`: the child's data becomes a fresh copy of the parent's.
    Everything using the child's volume must be stopped."""
    source, tag = volume_name(project, parent), f"sync-{int(time.time() * 1000)}"
    resume = (lambda: None) if pool.atomic_snapshots else pause_parent()
    started = time.monotonic()
    try:
        pool.snapshot(source, tag)
    finally:
        resume()
    try:
        path = pool.restore(f"{source}@{tag}", volume_name(project, environment))
    finally:
        pool.delete_snapshot(f"{source}@{tag}")
    scrub_clone(path)
    reown(path, owners)
    log(f"  Data: synchronized from '{parent}' in {(time.monotonic() - started) * 1000:.0f} ms "
        f"by {pool.method}")


def snapshot_before_hook(pool: Pool, project: str, environment: str, tag: str, keep: int,
                         log: Log) -> str | None:
    """The pre-deploy-hook snapshot that `rollback --with-data` restores; its ref."""
    name = volume_name(project, environment)
    if not pool.atomic_snapshots:
        log(f"  Data: no pre-deploy snapshot: {pool.method} cannot snapshot running services; "
            "rollback --with-data is unavailable")
        return None
    started = time.monotonic()
    pool.snapshot(name, tag)
    pruned = pool.prune(name, keep)
    log(f"  Data: snapshot '{tag}' in {(time.monotonic() - started) * 1000:.0f} ms"
        + (f" (pruned {len(pruned)})" if pruned else ""))
    return f"{name}@{tag}"


def restore(pool: Pool, project: str, environment: str, ref: str, log: Log) -> None:
    """Put back a pre-deploy snapshot; everything using the volume must be stopped."""
    started = time.monotonic()
    path = pool.restore(ref, volume_name(project, environment))
    scrub_clone(path)
    log(f"  Data: restored {ref} in {(time.monotonic() - started) * 1000:.0f} ms")


def drop(pool: Pool, project: str, environment: str) -> None:
    pool.delete(volume_name(project, environment))
