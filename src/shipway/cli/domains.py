"""`domain:add/list/get/delete -p P NAME` (T1), named and flagged as the platform CLI's.

Registered onto the main group by `register` (cli/main.py runs as
`__main__`, so this module never imports it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import click

Decorator = Callable[[Any], Any]
COLUMNS = ["name", "is_default", "created_at"]


def register(main: click.Group, *, project: Decorator, fmt: Decorator, client: Callable[[], Any],
             emit: Callable[[Any, str, list[str]], None]) -> None:
    @main.command("domain:add")
    @click.argument("name")
    @project
    @fmt
    def domain_add(name: str, project: str, fmt: str) -> None:
        """Serve production on NAME too; the first domain becomes {default}. No redeploy."""
        added = client().call("POST", f"/projects/{project}/domains", {"name": name})
        emit(added, fmt, COLUMNS)
        if fmt != "json":
            click.echo(f"certificate: {added['certificate']['note']}")

    @main.command("domain:list")
    @project
    @fmt
    def domain_list(project: str, fmt: str) -> None:
        """The project's domains, its default first."""
        emit(client().call("GET", f"/projects/{project}/domains"), fmt, COLUMNS)

    @main.command("domain:get")
    @click.argument("name")
    @project
    @fmt
    def domain_get(name: str, project: str, fmt: str) -> None:
        """Show one domain."""
        emit(client().call("GET", f"/projects/{project}/domains/{quote(name, safe='')}"), fmt,
             COLUMNS)

    @main.command("domain:delete")
    @click.argument("name")
    @project
    @fmt
    def domain_delete(name: str, project: str, fmt: str) -> None:
        """Stop serving NAME (production is not redeployed)."""
        emit(client().call("DELETE", f"/projects/{project}/domains/{quote(name, safe='')}", {}),
             fmt, COLUMNS)
