"""`backup:create/list/get/restore/delete` (BK1), named and flagged as the platform CLI's.

Registered onto the main group by `register`, which receives the shared
options and helpers so this module never imports cli/main.py (which runs as
`__main__`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

Decorator = Callable[[Any], Any]


def register(main: click.Group, *, project: Decorator, environment: Decorator, no_wait: Decorator,
             fmt: Decorator, client: Callable[[], Any], wait: Callable[[str | None, bool], None],
             emit: Callable[[Any, str, list[str]], None]) -> None:
    @main.command("backup:create")
    @project
    @environment
    @click.option("--live", is_flag=True,
                  help="do not pause the environment's writes for the snapshot instant")
    @no_wait
    def backup_create(project: str, environment: str, live: bool, no_wait: bool) -> None:
        """Back up an environment's code and data into the backup repository."""
        data = client().call("POST", f"/projects/{project}/environments/{environment}/backups",
                             {"live": live})
        wait(data["activity"], not no_wait)

    @main.command("backup:list")
    @project
    @click.option("-e", "--environment", default=None, help="only this environment's backups")
    @fmt
    def backup_list(project: str, environment: str | None, fmt: str) -> None:
        """List the verified backups the repository holds, newest first."""
        query = f"?environment={environment}" if environment else ""
        emit(client().call("GET", f"/projects/{project}/backups{query}"), fmt,
             ["id", "environment", "created_at", "release", "commit", "live"])

    @main.command("backup:get")
    @click.argument("backup_id")
    @project
    @fmt
    def backup_get(backup_id: str, project: str, fmt: str) -> None:
        """Show one backup."""
        emit(client().call("GET", f"/projects/{project}/backups/{backup_id}"), fmt,
             ["id", "project", "environment", "environment_type", "created_at", "release",
              "commit", "live", "repository"])

    @main.command("backup:restore")
    @click.argument("backup_id")
    @project
    @click.option("--target", default=None, help="the environment to restore into "
                  "(default: the one backed up)")
    @click.option("--no-code", is_flag=True, help="restore the data only; keep the current code")
    @click.option("-e", "--environment", default=None,
                  help="the environment to restore into, as the platform CLI's -e (C12)")
    @no_wait
    def backup_restore(backup_id: str, project: str, target: str | None, no_code: bool,
                       environment: str | None, no_wait: bool) -> None:
        """Restore a backup's data (and code): the environment is redeployed with it."""
        data = client().call("POST", f"/projects/{project}/backups/{backup_id}/restore",
                             {"target": target or environment, "no_code": no_code})
        wait(data["activity"], not no_wait)

    @main.command("backup:delete")
    @click.argument("backup_id")
    @project
    @no_wait
    def backup_delete(backup_id: str, project: str, no_wait: bool) -> None:
        """Delete a backup from the repository (data other backups share is kept)."""
        data = client().call("DELETE", f"/projects/{project}/backups/{backup_id}", {})
        wait(data["activity"], not no_wait)

    @main.command("backup:schedule")
    @project
    @environment
    @click.option("--every", default=None, help="back up this often: 1d, 12h, 30m, 10s")
    @click.option("--keep-daily", type=int, default=None, show_default="7",
                  help="keep the newest automated backup of each of this many days")
    @click.option("--keep-weekly", type=int, default=None, show_default="4",
                  help="keep the newest automated backup of each of this many weeks")
    @click.option("--off", is_flag=True, help="stop automated backups (existing ones are kept)")
    @fmt
    def backup_schedule(project: str, environment: str, every: str | None, keep_daily: int | None,
                        keep_weekly: int | None, off: bool, fmt: str) -> None:
        """Show or set the environment's automated backups and their retention (BK4)."""
        data = client().call(
            "POST", f"/projects/{project}/environments/{environment}/backup-schedule",
            {"every": every, "keep_daily": keep_daily, "keep_weekly": keep_weekly, "off": off})
        if fmt == "json":
            emit(data, fmt, [])
            return
        found = data["schedule"]
        if not found:
            click.echo(f"{environment}: no automated backups")
            return
        click.echo(f"{environment}: a backup every {found['every_seconds']} s, keeping "
                   f"{found['keep_daily']} daily and {found['keep_weekly']} weekly")
