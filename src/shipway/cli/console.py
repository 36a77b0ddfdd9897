"""`shipway console:login --user EMAIL` (W1): print a one-time sign-in link to the console."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def register(main: click.Group, *, client: Callable[[], Any]) -> None:
    @main.command("console:login")
    @click.option("--user", "email", required=True, help="the user's email (see `user:list`)")
    def console_login(email: str) -> None:
        """Print a sign-in link for USER: it works once, within ten minutes (root only)."""
        data = client().call("POST", "/console-links", {"user": email})
        click.echo(data["url"])
        click.echo(f"Sign-in link for {data['user']}: works once, for {data['expires_in'] // 60} "
                   "minutes. Or paste the code after ?t= on the console's sign-in page.", err=True)
