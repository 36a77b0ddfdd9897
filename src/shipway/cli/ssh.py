"""`shipway ssh` (A4) and `shipway ssh:config` (A2), registered onto the main group."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

import click

from shipway.access import gate, ownpty
from shipway.access.commands import parse_shell_args
from shipway.access.sshd import host_sshd_lines, ssh_settings
from shipway.errors import NotSupportedYet, UsageError
from shipway.settings import load_settings


def session_line(project: str, environment: str, app: str | None, command: tuple[str, ...]) -> str:
    """The command line the session socket reads, as a remote client's ssh would send it."""
    words = ["-p", project, "-e", environment, *(["--app", app] if app else [])]
    parse_shell_args(words, list(command))  # refuse a bad name here, with the same words
    line = shlex.join(["ssh", *words])
    # One quoted word: the session socket splits the line as a shell would, then rejoins.
    return f"{line} -- {shlex.quote(' '.join(command))}" if command else line


def register(main: click.Group, *, project: Any, environment: Any) -> None:
    @main.command("ssh", context_settings={"ignore_unknown_options": True})
    @project
    @environment
    @click.option("-A", "--app", default=None, help="the app (when the environment has several)")
    @click.argument("command", nargs=-1, type=click.UNPROCESSED)
    def ssh(project: str, environment: str, app: str | None, command: tuple[str, ...]) -> None:
        """Open a shell (or run COMMAND, after --) in the running app's sandbox."""
        if os.environ.get("SHIPWAY_API_URL"):
            raise NotSupportedYet("`shipway ssh` against a remote API is not supported yet; "
                                  "use: ssh -t shipway@HOST ssh -p PROJECT -e ENVIRONMENT")
        if os.geteuid() != 0:
            raise UsageError("on the server `shipway ssh` runs as root; from elsewhere: "
                             "ssh -t shipway@HOST ssh -p PROJECT -e ENVIRONMENT")
        settings = load_settings()
        line = session_line(project, environment, app, command)
        socket = str(ssh_settings(settings.home, settings.listen_host).socket)
        sys.exit(ownpty.run(lambda: gate.run(socket, "", line)))  # A4: never root's terminal

    @main.command("ssh:config")
    def ssh_config() -> None:
        """Print the sshd_config lines that let the host's own sshd serve shipway's SSH user."""
        settings = load_settings()
        click.echo(host_sshd_lines(ssh_settings(settings.home, settings.listen_host)), nl=False)
