"""The `shipway` command. Every command but `serve` is a client of the API.

Command names and flags follow the `platform` CLI (`project:create`,
`environment:list`, `-p/--project`, `-e/--environment`), so muscle memory and
scripts carry over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from shipway.api.client import ApiClient
from shipway.errors import ShipwayError
from shipway.settings import load_settings

FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                      help="table for people, json for scripts")
def _git_project() -> str | None:
    """The project whose shipway remote the current repository pushes to."""
    git_dir = load_settings().home / "git"
    proc = subprocess.run(["git", "remote", "-v"], capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].rstrip("/").endswith(".git"):
            remote = Path(parts[1].rstrip("/"))
            if remote.parent == git_dir:
                return remote.name.removesuffix(".git")
    return None


def _project_from_git(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """Like the platform CLI: without -p, the project whose remote the current repo pushes to."""
    found = value or os.environ.get("SHIPWAY_PROJECT") or _git_project()
    if found:
        return found
    raise click.UsageError("no project given: use -p PROJECT (or run inside a repo that "
                           "has a shipway remote, or set SHIPWAY_PROJECT)")


def _environment_from_git(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """Like the platform CLI (C12): without -e, the current branch of a repository
    that has a shipway remote, else `main`."""
    found = value or os.environ.get("SHIPWAY_ENVIRONMENT")
    if found:
        return found
    if _git_project() is not None:
        proc = subprocess.run(["git", "symbolic-ref", "--short", "-q", "HEAD"], capture_output=True,
                              text=True, check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    return "main"


PROJECT = click.option("-p", "--project", default=None, callback=_project_from_git,
                       help="the project name (default: from this repo's shipway remote)")
NO_WAIT = click.option("-W", "--no-wait", "no_wait", is_flag=True,
                       help="do not wait for the activity to complete")
ENVIRONMENT = click.option("-e", "--environment", default=None, callback=_environment_from_git,
                           help="the environment (default: this repo's current branch, else main)")
# On commands that name an activity by its id: -p/-e are checked against it (C12).
OWNER_PROJECT = click.option("-p", "--project", default=None,
                             help="the project the activity must belong to")
OWNER_ENVIRONMENT = click.option("-e", "--environment", default=None,
                                 help="the environment the activity must belong to")


def _check_owner(activity_id: str, project: str | None, environment: str | None) -> None:
    if project is None and environment is None:
        return
    found = _client().call("GET", f"/activities/{activity_id}")
    for key, wanted in (("project", project), ("environment", environment)):
        if wanted is not None and found.get(key) != wanted:
            raise click.UsageError(f"activity {activity_id} belongs to {key} "
                                   f"{found.get(key)!r}, not {wanted!r}")


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
    if data.get("ssh_remote"):  # A2: from elsewhere, with a key added by ssh-key:add
        click.echo(f"  or over SSH: git remote add shipway {data['ssh_remote']}")
    click.echo(data["git_remote"])


@main.command("project:list")
@FORMAT
def project_list(fmt: str) -> None:
    """List projects."""
    _emit(_client().call("GET", "/projects"), fmt, ["name", "id"])


@main.command("project:info")
@click.argument("property_name", required=False)
@click.argument("value", required=False)
@PROJECT
@FORMAT
def project_info(property_name: str | None, value: str | None, project: str, fmt: str) -> None:
    """Show a project, or set a property (`version_policy nearest`)."""
    if value is not None:
        data = _client().call("POST", f"/projects/{project}",
                              {"property": property_name, "value": value})
    else:
        data = _client().call("GET", f"/projects/{project}")
    if property_name and value is None:
        click.echo(data.get(property_name, ""))
        return
    _emit(data, fmt, list(data))


@main.command("runtime:list")
@FORMAT
def runtime_list(fmt: str) -> None:
    """The language runtimes found on this host, which `type:` can ask for."""
    _emit(_client().call("GET", "/runtimes"), fmt, ["language", "version", "origin", "bin_dir"])


@main.command("environment:list")
@PROJECT
@FORMAT
def environment_list(project: str, fmt: str) -> None:
    """List a project's environments (one per pushed branch)."""
    data = _client().call("GET", f"/projects/{project}/environments")
    _emit(data, fmt, ["id", "machine_name", "type", "status", "current_release"])


@main.command("environment:info")
@click.argument("property_name", required=False)
@click.argument("value", required=False)
@PROJECT
@ENVIRONMENT
@FORMAT
def environment_info(property_name: str | None, value: str | None, project: str, environment: str,
                     fmt: str) -> None:
    """Show an environment, one of its properties, or set one (`type staging`)."""
    path = f"/projects/{project}/environments/{environment}"
    if value is not None:
        data = _client().call("POST", f"{path}/set", {"property": property_name, "value": value})
        click.echo(data["message"])
        return
    data = _client().call("GET", path)
    if property_name:
        click.echo(data.get(property_name, ""))
        return
    _emit(data, fmt, list(data))


def _environment_action(project: str, environment: str, action: str, body: dict[str, Any],
                        wait: bool) -> None:
    data = _client().call("POST", f"/projects/{project}/environments/{environment}/{action}", body)
    if data.get("message"):
        click.echo(data["message"])
    _wait(data.get("activity"), wait)


@main.command("environment:activate")
@click.argument("environment", required=False)
@PROJECT
@click.option("-e", "--environment", "env_option", default=None, help="the environment")
@NO_WAIT
def environment_activate(environment: str | None, project: str, env_option: str | None,
                         no_wait: bool) -> None:
    """Activate a pushed branch: deploy it with its own URL and processes (E1)."""
    name = environment or env_option
    if not name:
        raise click.UsageError("which environment? give its name")
    _environment_action(project, name, "activate", {}, not no_wait)


@main.command("environment:deactivate")
@click.argument("environment", required=False)
@PROJECT
@click.option("-e", "--environment", "env_option", default=None, help="the environment")
def environment_deactivate(environment: str | None, project: str, env_option: str | None) -> None:
    """Stop an environment and free its data; the branch stays (E1)."""
    name = environment or env_option
    if not name:
        raise click.UsageError("which environment? give its name")
    _environment_action(project, name, "deactivate", {}, True)


@main.command("environment:synchronize")
@click.argument("what", type=click.Choice(["data"]))
@PROJECT
@ENVIRONMENT
@NO_WAIT
def environment_synchronize(what: str, project: str, environment: str, no_wait: bool) -> None:
    """Copy the parent's data into this environment again (E2); code is left as it is."""
    _environment_action(project, environment, "synchronize", {}, not no_wait)


main.add_command(environment_synchronize, "sync")


@main.command("environment:merge")
@PROJECT
@click.option("-e", "--environment", required=True, help="the child environment to merge up")
@NO_WAIT
def environment_merge(project: str, environment: str, no_wait: bool) -> None:
    """Fast-forward the parent to this environment's code and deploy it; data stays put (E2)."""
    _environment_action(project, environment, "merge", {}, not no_wait)


main.add_command(environment_merge, "merge")


@main.command("environment:branch")
@click.argument("name")
@click.argument("parent", required=False)
@PROJECT
@click.option("-e", "--environment", "env_option", default="main", show_default=True,
              help="the parent, when not given as an argument")
@click.option("--type", "type_", type=click.Choice(["development", "staging"]), default=None)
@NO_WAIT
def environment_branch(name: str, parent: str | None, project: str, env_option: str,
                       type_: str | None, no_wait: bool) -> None:
    """Create a branch from PARENT's head and deploy it as an active environment (E1)."""
    _environment_action(project, parent or env_option, "branch", {"name": name, "type": type_},
                        not no_wait)


def _api_info() -> dict:
    """What the control plane says of its HTTPS API and console ({} when both are off)."""
    try:
        data: dict = _client().call("GET", "/api-info")
    except ShipwayError as exc:
        raise click.ClickException(str(exc)) from None
    return data


def _api_url(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`url --api` (A3): the HTTPS API's base URL and CA file, no project needed."""
    if not value or ctx.resilient_parsing:
        return
    data = _api_info()
    if not data:
        raise click.ClickException("the API is served only on the local unix socket; set "
                                   "SHIPWAY_API_LISTEN=HOST:PORT for `shipway serve`")
    click.echo(data["url"])
    click.echo(f"CA certificate: {data['ca']} (give it to clients: SHIPWAY_API_CA)")
    ctx.exit()


def _console_url(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`url --console` (W1): the console through the router, then on the API listener."""
    if not value or ctx.resilient_parsing:
        return
    data = _api_info()
    if not data.get("console"):
        raise click.ClickException("the console is off; set SHIPWAY_API_LISTEN=HOST:PORT "
                                   "for `shipway serve`")
    click.echo(data["console"])
    click.echo(f"{data['url']}/console/")
    ctx.exit()


@main.command("url")
@click.option("--api", is_flag=True, is_eager=True, expose_value=False, callback=_api_url,
              help="print the HTTPS API's base URL and its CA file instead")
@click.option("--console", is_flag=True, is_eager=True, expose_value=False,
              callback=_console_url, help="print the console's URLs (router, then API listener)")
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
    _emit(data, fmt, ["id", "current", "commit", "trigger", "created_at", "activity", "builds"])


@main.command("activity:list")
@PROJECT
@click.option("-e", "--environment", default=None, help="only this environment")
@FORMAT
def activity_list(project: str, environment: str | None, fmt: str) -> None:
    """List recent activities, newest first."""
    query = f"?environment={environment}" if environment else ""
    data = _client().call("GET", f"/projects/{project}/activities{query}")
    _emit(data, fmt, ["id", "environment", "type", "state", "result", "created_at", "triggered_by",
                      "description"])


@main.command("activity:cancel")
@click.argument("activity_id")
@OWNER_PROJECT
@OWNER_ENVIRONMENT
def activity_cancel(activity_id: str, project: str | None, environment: str | None) -> None:
    """Cancel a pending activity, or a build in progress (B8)."""
    _check_owner(activity_id, project, environment)
    data = _client().call("POST", f"/activities/{activity_id}/cancel", {})
    click.echo(data["message"])


@main.command("activity:log")
@click.argument("activity_id")
@click.option("--follow", is_flag=True, help="keep printing until the activity completes")
@OWNER_PROJECT
@OWNER_ENVIRONMENT
def activity_log(activity_id: str, follow: bool, project: str | None, environment: str | None) -> None:
    """Print an activity's log."""
    _check_owner(activity_id, project, environment)
    client = ApiClient(load_settings(), timeout=None)
    suffix = "?follow=1" if follow else ""
    _follow(client.stream("GET", f"/activities/{activity_id}/log{suffix}"), f"activity {activity_id}")


def _wait(client_activity: str | None, wait: bool) -> None:
    """Follow an activity's log to its end, like the platform CLI; fail if it failed."""
    if not client_activity:
        return
    if not wait:
        click.echo(f"Started activity {client_activity}")
        return
    events = ApiClient(load_settings(), timeout=None).stream(
        "GET", f"/activities/{client_activity}/log?follow=1")
    result = _follow(events, f"activity {client_activity}")
    if result != "success":
        raise click.exceptions.Exit(1)


def _follow(events: Iterator[dict[str, Any]], title: str) -> str | None:
    """Print log lines as they come; on a terminal, under a spinner naming the current step."""
    result = None
    if not sys.stdout.isatty():
        for event in events:
            if "log" in event:
                click.echo(event["log"])
            result = event.get("result", result)
        return result
    console = Console(highlight=False)
    with console.status(title) as status:
        for event in events:
            if "log" in event:
                console.print(event["log"], markup=False)
                if not event["log"].startswith(" "):
                    status.update(f"{title}: {event['log'][:70]}")
            result = event.get("result", result)
    return result



@main.command("redeploy")
@PROJECT
@ENVIRONMENT
@NO_WAIT
def redeploy(project: str, environment: str, no_wait: bool) -> None:
    """Deploy the current release again: builds reused, only post_deploy runs (D8)."""
    data = _client().call("POST", f"/projects/{project}/environments/{environment}/redeploy", {})
    _wait(data["activity"], not no_wait)


@main.command("rollback")
@click.argument("release", required=False)
@PROJECT
@ENVIRONMENT
@click.option("--with-data", is_flag=True,
              help="also restore mounts and service data as they were before the next deploy's hook")
@NO_WAIT
def rollback(release: str | None, project: str, environment: str, with_data: bool,
             no_wait: bool) -> None:
    """Make an earlier release (default: the one before the current) current again (R2)."""
    data = _client().call("POST", f"/projects/{project}/environments/{environment}/rollback",
                          {"release": release, "with_data": with_data})
    _wait(data["activity"], not no_wait)


BOOL = click.Choice(["true", "false"])


def _variable_options(fn: Any) -> Any:
    for flag, key in reversed([
        ("--json", "is_json"), ("--sensitive", "is_sensitive"), ("--visible-build", "visible_build"),
        ("--visible-runtime", "visible_runtime"), ("--inheritable", "is_inheritable"),
        ("--enabled", "is_enabled"),
    ]):
        fn = click.option(flag, key, type=BOOL, default=None, help="true or false")(fn)
    fn = click.option("-l", "--level", type=click.Choice(["project", "environment", "p", "e"]),
                      default=None, help="project or environment")(fn)
    fn = click.option("-e", "--environment", default=None, help="the environment (branch)")(fn)
    return PROJECT(fn)


def _flags(options: dict[str, Any]) -> dict[str, Any]:
    level = {"p": "project", "e": "environment"}.get(options["level"], options["level"])
    body = {"environment": options["environment"], "level": level}
    for key in ("is_json", "is_sensitive", "visible_build", "visible_runtime", "is_inheritable",
                "is_enabled"):
        body[key] = None if options[key] is None else options[key] == "true"
    return body


# A value on the command line is in `ps` for every host user while the
# command waits for its redeploy (S3); from stdin it is not.
STDIN_HELP = "- reads it from stdin, out of `ps` (for a sensitive value)"


def _value(value: str | None) -> str | None:
    if value != "-":
        return value
    text = click.get_text_stream("stdin").read()
    return text[:-1] if text.endswith("\n") else text


def _report_variable(data: dict[str, Any], wait: bool) -> None:
    var = data["variable"]
    click.echo(f"Variable {var['name']} saved at {var['level']} level.")
    if data.get("message"):
        click.echo(data["message"])
    _wait(data.get("activity"), wait)


@main.command("variable:create")
@click.argument("name", required=False)
@click.option("--name", "name_option", default=None, help="the variable name")
@click.option("--value", required=True, help=f"the value; {STDIN_HELP}")
@click.option("--prefix", type=click.Choice(["none", "env:"]), default="none",
              help="env: exports it as an environment variable")
@_variable_options
@NO_WAIT
def variable_create(name: str | None, name_option: str | None, value: str, prefix: str,
                    no_wait: bool, **options: Any) -> None:
    """Create a variable (E3); an environment-level one redeploys that environment."""
    full = name_option or name
    if not full:
        raise click.UsageError("give the variable's name (as an argument or --name)")
    if prefix == "env:" and not full.startswith("env:"):
        full = f"env:{full}"
    body = {**_flags(options), "name": full, "value": _value(value), "create": True}
    _report_variable(_client().call("PUT", f"/projects/{options['project']}/variables", body),
                     not no_wait)


@main.command("variable:update")
@click.argument("name")
@click.option("--value", default=None, help=f"the new value; {STDIN_HELP}")
@_variable_options
@NO_WAIT
def variable_update(name: str, value: str | None, no_wait: bool, **options: Any) -> None:
    """Change a variable's value or flags."""
    body = {**_flags(options), "name": name, "value": _value(value), "create": False}
    _report_variable(_client().call("PUT", f"/projects/{options['project']}/variables", body),
                     not no_wait)


@main.command("variable:delete")
@click.argument("name")
@PROJECT
@click.option("-e", "--environment", default=None, help="the environment (branch)")
@NO_WAIT
def variable_delete(name: str, project: str, environment: str | None, no_wait: bool) -> None:
    """Delete a variable."""
    data = _client().call("DELETE", f"/projects/{project}/variables",
                          {"name": name, "environment": environment})
    click.echo(f"Deleted variable {name}.")
    if data.get("message"):
        click.echo(data["message"])
    _wait(data.get("activity"), not no_wait)


@main.command("variable:list")
@PROJECT
@click.option("-e", "--environment", default=None, help="the environment (branch)")
@FORMAT
def variable_list(project: str, environment: str | None, fmt: str) -> None:
    """List the variables a project (and environment) has; sensitive values are hidden."""
    query = f"?environment={environment}" if environment else ""
    data = _client().call("GET", f"/projects/{project}/variables{query}")
    if fmt == "table":
        for row in data:
            row["value"] = "(sensitive)" if row["is_sensitive"] else row["value"]
    _emit(data, fmt, ["name", "level", "value", "visible_build", "visible_runtime", "is_sensitive"])


@main.command("variable:get")
@click.argument("name")
@PROJECT
@click.option("-e", "--environment", default=None, help="the environment (branch)")
@FORMAT
def variable_get(name: str, project: str, environment: str | None, fmt: str) -> None:
    """Show one variable."""
    query = f"?environment={environment}" if environment else ""
    data = _client().call("GET", f"/projects/{project}/variables{query}")
    found = [v for v in data if v["name"] == name]
    if not found:
        raise click.ClickException(f"no variable {name!r}")
    var = sorted(found, key=lambda v: v["level"] != "environment")[0]
    _emit(var, fmt, list(var))


@main.command("log")
@click.argument("kind", default="app")
@PROJECT
@ENVIRONMENT
@click.option("-A", "--app", default=None, help="the app (when the project has several)")
@click.option("--lines", default=100, show_default=True, help="how many of the last lines")
def log(kind: str, project: str, environment: str, app: str | None, lines: int) -> None:
    """Show an app's log: app, deploy, post-deploy or worker-NAME."""
    query = f"?lines={lines}" + (f"&app={app}" if app else "")
    click.echo(_client().text(f"/projects/{project}/environments/{environment}/logs/{kind}{query}"),
               nl=False)


@main.command("activity:get")
@click.argument("activity_id")
@OWNER_PROJECT
@OWNER_ENVIRONMENT
@FORMAT
def activity_get(activity_id: str, project: str | None, environment: str | None, fmt: str) -> None:
    """Show one activity."""
    _check_owner(activity_id, project, environment)
    data = _client().call("GET", f"/activities/{activity_id}")
    _emit(data, fmt, list(data))


# The platform CLI's names for the same commands (C12; README lists the differences).
ALIASES = {"environment:redeploy": "redeploy", "environment:url": "url", "environment:logs": "log",
           "logs": "log", "branch": "environment:branch", "merge": "environment:merge",
           "sync": "environment:synchronize", "environment:sync": "environment:synchronize"}
for _alias, _name in ALIASES.items():
    main.add_command(main.commands[_name], name=_alias)

from shipway.cli import backups as _backups  # noqa: E402 - registers onto `main`, defined above
from shipway.cli import domains as _domains  # noqa: E402 - registers onto `main`, defined above

_backups.register(main, project=PROJECT, environment=ENVIRONMENT, no_wait=NO_WAIT, fmt=FORMAT,
                  client=_client, wait=_wait, emit=_emit)
_domains.register(main, project=PROJECT, fmt=FORMAT, client=_client, emit=_emit)

from shipway.cli import access as _access  # noqa: E402 - likewise

_access.register(main, project=PROJECT, fmt=FORMAT, client=_client, emit=_emit)

from shipway.cli import ssh as _ssh  # noqa: E402 - likewise

_ssh.register(main, project=PROJECT, environment=ENVIRONMENT)
LATE_ALIASES = {"environment:ssh": "ssh"}  # the platform CLI's name (C12), registered above
for _alias, _name in LATE_ALIASES.items():
    main.add_command(main.commands[_name], name=_alias)

from shipway.cli import console as _console  # noqa: E402 - likewise

_console.register(main, client=_client)


if __name__ == "__main__":
    main()
