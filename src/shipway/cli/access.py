"""`user:*`, `ssh-key:*`, `api-token:*` and `auth:api-token-login` (A1-A3), named and
flagged as the platform CLI's where it has the command (`api-token:*` is ours:
the platform CLI gets tokens from the console).

Registered onto the main group by `register`, like cli/backups.py."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from shipway.api.client import ApiClient, config_path
from shipway.errors import UsageError
from shipway.settings import load_settings

Decorator = Callable[[Any], Any]
USER_COLUMNS = ["email", "role", "roles", "id"]
MAX_KEY_FILE = 16 * 1024
ROLE = click.option("-r", "--role", "roles", multiple=True,
                    help="a project role (admin, viewer) or TYPE:ROLE, e.g. development:contributor;"
                         " repeat it")


def register(main: click.Group, *, project: Decorator, fmt: Decorator,
             client: Callable[[], Any], emit: Callable[[Any, str, list[str]], None]) -> None:
    _users(main, project, fmt, client, emit)
    _keys(main, fmt, client, emit)
    _tokens(main, fmt, client, emit)
    main.add_command(auth_login)


def _users(main: click.Group, project: Decorator, fmt: Decorator, client: Callable[[], Any],
           emit: Callable[[Any, str, list[str]], None]) -> None:
    @main.command("user:add")
    @click.argument("email")
    @project
    @ROLE
    @fmt
    def user_add(email: str, project: str, roles: tuple[str, ...], fmt: str) -> None:
        """Add a user to a project, with a project role and environment-type roles (A1).
        Nothing is redeployed (A5)."""
        data = client().call("POST", f"/projects/{project}/users",
                             {"email": email, "roles": list(roles) or ["viewer"]})
        emit(data, fmt, USER_COLUMNS)

    @main.command("user:list")
    @project
    @fmt
    def user_list(project: str, fmt: str) -> None:
        """List a project's users and their roles."""
        emit(client().call("GET", f"/projects/{project}/users"), fmt, USER_COLUMNS)

    @main.command("user:get")
    @click.argument("email")
    @project
    @fmt
    def user_get(email: str, project: str, fmt: str) -> None:
        """Show one user's roles on a project."""
        emit(client().call("GET", f"/projects/{project}/users/{_path(email)}"), fmt, USER_COLUMNS)

    @main.command("user:update")
    @click.argument("email")
    @project
    @ROLE
    @fmt
    def user_update(email: str, project: str, roles: tuple[str, ...], fmt: str) -> None:
        """Change a user's roles (TYPE:none removes one); other roles are kept."""
        if not roles:
            raise click.UsageError("give at least one --role")
        data = client().call("PATCH", f"/projects/{project}/users/{_path(email)}",
                             {"roles": list(roles)})
        emit(data, fmt, USER_COLUMNS)

    @main.command("user:delete")
    @click.argument("email")
    @project
    def user_delete(email: str, project: str) -> None:
        """Remove a user from a project (their keys and tokens go with their last project)."""
        click.echo(client().call("DELETE", f"/projects/{project}/users/{_path(email)}")["message"])


def _keys(main: click.Group, fmt: Decorator, client: Callable[[], Any],
          emit: Callable[[Any, str, list[str]], None]) -> None:
    @main.command("ssh-key:add")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--user", "email", required=True, help="the user the key belongs to")
    @fmt
    def key_add(file: Path, email: str, fmt: str) -> None:
        """Add a user's SSH public key (the .pub file) for git push and ssh (A2)."""
        with file.open("rb") as f:
            data = f.read(MAX_KEY_FILE + 1)
        body = {"user": email, "key_base64": base64.b64encode(data).decode()}
        emit(client().call("POST", "/ssh-keys", body), fmt, ["id", "user", "fingerprint"])

    @main.command("ssh-key:list")
    @click.option("--user", "email", default=None, help="only this user's keys")
    @fmt
    def key_list(email: str | None, fmt: str) -> None:
        """List SSH keys."""
        query = f"?user={_path(email)}" if email else ""
        emit(client().call("GET", f"/ssh-keys{query}"), fmt,
             ["id", "user", "type", "fingerprint", "comment"])

    @main.command("ssh-key:delete")
    @click.argument("key_id")
    def key_delete(key_id: str) -> None:
        """Delete an SSH key: it stops working at once."""
        click.echo(client().call("DELETE", f"/ssh-keys/{_path(key_id)}")["message"])


def _tokens(main: click.Group, fmt: Decorator, client: Callable[[], Any],
            emit: Callable[[Any, str, list[str]], None]) -> None:
    @main.command("api-token:create")
    @click.option("--user", "email", required=True, help="the user the token acts as")
    @click.option("--name", required=True, help="what it is for, e.g. laptop or ci")
    def token_create(email: str, name: str) -> None:
        """Create an API token; it is printed this once and stored only as a hash (A3)."""
        data = client().call("POST", "/api-tokens", {"user": email, "name": name})
        click.echo(f"API token {data['id']} ({data['name']}) for {data['user']}; it is shown "
                   "only now:", err=True)
        click.echo(data["token"])

    @main.command("api-token:list")
    @fmt
    def token_list(fmt: str) -> None:
        """List API tokens (never the tokens themselves)."""
        emit(client().call("GET", "/api-tokens"), fmt, ["id", "user", "name"])

    @main.command("api-token:delete")
    @click.argument("token_id")
    def token_delete(token_id: str) -> None:
        """Revoke an API token: the next request with it is refused."""
        click.echo(client().call("DELETE", f"/api-tokens/{_path(token_id)}")["message"])


@click.command("auth:api-token-login")
@click.option("--url", default=None, help="the API's base URL (`shipway url --api` on the server)")
@click.option("--ca", "ca", default=None, type=click.Path(dir_okay=False, exists=True),
              help="the API's CA certificate file, copied from the server")
@click.option("--token-stdin", is_flag=True, help="read the token from standard input")
def auth_login(url: str | None, ca: str | None, token_stdin: bool) -> None:
    """Save the API URL and a token in ~/.config/shipway/config.json (mode 0600)."""
    url = url or click.prompt("API URL (https://HOST:PORT)")
    if token_stdin:
        token = click.get_text_stream("stdin").readline().strip()
    else:
        token = click.prompt("API token", hide_input=True)
    if not url.startswith("https://"):
        raise UsageError("the API URL starts with https:// (tokens never travel in clear)")
    saved = {"url": url.rstrip("/"), "token": token, "ca": str(Path(ca).resolve()) if ca else ""}
    who = _check_login(saved)
    _write_private(config_path(), json.dumps(saved, indent=2) + "\n")
    click.echo(f"Logged in to {saved['url']} as {who}; saved in {config_path()}")


def _check_login(saved: dict[str, str]) -> str:
    old = {k: os.environ.get(k) for k in ("SHIPWAY_API_URL", "SHIPWAY_API_TOKEN", "SHIPWAY_API_CA")}
    os.environ.update({"SHIPWAY_API_URL": saved["url"], "SHIPWAY_API_TOKEN": saved["token"],
                       "SHIPWAY_API_CA": saved["ca"]})
    try:
        return str(ApiClient(load_settings()).call("GET", "/whoami")["label"])
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _path(value: str) -> str:
    return quote(value, safe="@")
