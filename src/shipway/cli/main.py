"""The `shipway` command. Every command but `serve` is a client of the API.

Command names and flags follow the `platform` CLI (`project:create`,
`environment:list`, `-p/--project`, `-e/--environment`), so muscle memory and
scripts carry over.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from shipway.api.client import ApiClient
from shipway.errors import ShipwayError
from shipway.settings import load_settings

FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                      help="table for people, json for scripts")
PROJECT = click.option("-p", "--project", required=True, help="the project name")
ENVIRONMENT = click.option("-e", "--environment", default="main", show_default=True,
                           help="the environment (branch)")


def _client() -> ApiClient:
    return ApiClient(load_settings())


def _print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[str(r.get(c, "") if r.get(c) is not None else "") for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _emit(data: Any, fmt: str, columns: Sequence[str]) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    elif isinstance(data, list):
        _print_table(data, columns)
    else:
        for key in columns:
            click.echo(f"{key}: {data.get(key)}")


class Shipway(click.Group):
    """Turn shipway's errors into one line and a non-zero exit; tracebacks only for bugs."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShipwayError as exc:
            click.echo(f"shipway: {exc}", err=True)
            sys.exit(1)


@click.group(cls=Shipway, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """shipway: git push to a running app, with Platform.sh / Upsun configuration."""


@main.command("serve")
def serve() -> None:
    """Run the control plane (as root): API, builds, deploys, router and supervisors."""
    from shipway.control import serve as run_control_plane

    run_control_plane(load_settings())


@main.command("project:create")
@click.argument("name")
@FORMAT
def project_create(name: str, fmt: str) -> None:
    """Create a project; the last line printed is its git remote."""
    data = _client().call("POST", "/projects", {"name": name})
    if fmt == "json":
        _emit(data, fmt, [])
        return
    click.echo(f"Created project {data['name']} (id {data['id']}). Push to it with:")
    click.echo(f"  git remote add shipway {data['git_remote']} && git push shipway main")
    click.echo(data["git_remote"])


@main.command("project:list")
@FORMAT
def project_list(fmt: str) -> None:
    """List projects."""
    _emit(_client().call("GET", "/projects"), fmt, ["name", "id"])


@main.command("environment:list")
@PROJECT
@FORMAT
def environment_list(project: str, fmt: str) -> None:
    """List a project's environments (one per pushed branch)."""
    data = _client().call("GET", f"/projects/{project}/environments")
    _emit(data, fmt, ["id", "machine_name", "type", "status", "current_release"])


@main.command("environment:info")
@PROJECT
@ENVIRONMENT
@FORMAT
def environment_info(project: str, environment: str, fmt: str) -> None:
    """Show one environment."""
    data = _client().call("GET", f"/projects/{project}/environments/{environment}")
    _emit(data, fmt, list(data))


@main.command("url")
@PROJECT
@ENVIRONMENT
@click.option("--pipe", is_flag=True, help="print only the primary URL")
@FORMAT
def url(project: str, environment: str, pipe: bool, fmt: str) -> None:
    """Show the environment's URLs (the primary one first)."""
    data = _client().call("GET", f"/projects/{project}/environments/{environment}/url")
    if pipe:
        click.echo(data[0]["url"] if data else "")
        return
    _emit(data, fmt, ["url", "primary", "original_url"])


@main.command("release:list")
@PROJECT
@ENVIRONMENT
@FORMAT
def release_list(project: str, environment: str, fmt: str) -> None:
    """List the environment's releases, newest first (R1)."""
    data = _client().call("GET", f"/projects/{project}/environments/{environment}/releases")
    if fmt == "table":
        for r in data:
            r["commit"] = r["commit"][:7]
            r["builds"] = " ".join(f"{a}={k[:10]}" for a, k in r["builds"].items())
    _emit(data, fmt, ["id", "commit", "trigger", "created_at", "activity", "builds"])


@main.command("activity:list")
@PROJECT
@click.option("-e", "--environment", default=None, help="only this environment")
@FORMAT
def activity_list(project: str, environment: str | None, fmt: str) -> None:
    """List recent activities, newest first."""
    query = f"?environment={environment}" if environment else ""
    data = _client().call("GET", f"/projects/{project}/activities{query}")
    _emit(data, fmt, ["id", "environment", "type", "state", "result", "created_at", "description"])


@main.command("activity:log")
@click.argument("activity_id")
@click.option("--follow", is_flag=True, help="keep printing until the activity completes")
def activity_log(activity_id: str, follow: bool) -> None:
    """Print an activity's log."""
    client = ApiClient(load_settings(), timeout=None)
    suffix = "?follow=1" if follow else ""
    for event in client.stream("GET", f"/activities/{activity_id}/log{suffix}"):
        if "log" in event:
            click.echo(event["log"])


if __name__ == "__main__":
    main()
