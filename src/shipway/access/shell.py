"""A4: a shell, or one command, inside a running app's sandbox, on the caller's descriptors.

The sandbox is the app's own, built by the same code as its web process
(`deploy.instances.sandbox_spec` of the launch `Platform.shell_launch`
gives): the same uid, read-only /app, writable mounts, the environment file
with PLATFORM_RELATIONSHIPS and user variables, the host network filtered
for that uid as the app is, so the app's services answer. Added for the
session only: the app's logs at /var/log/{deploy,post-deploy,app}.log.

The logs under SHIPWAY_HOME are root's alone (S3, 0600); rather than open
them to the app's uid, each is a read-only copy of its last LOG_TAIL bytes
taken when the session starts (`--ro-bind-data` from a memfd).

With a terminal, `setsid --ctty` makes the passed pty the session's
controlling terminal, so job control, ^C and the window size (sshd sets it on
the pty; SIGWINCH reaches the foreground group) work as in any login.
`setpriv --pdeathsig KILL` ends the session with the control plane: bwrap's
--die-with-parent then takes the sandbox down.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from shipway.deploy.instances import Launch, sandbox_spec
from shipway.deploy.runenv import with_dot_environment
from shipway.sandbox import envfd, pids
from shipway.sandbox.layout import probe_host_layout
from shipway.sandbox.spec import bwrap_command

LOGS = ("deploy.log", "post-deploy.log", "app.log")
LOG_DIR = "/var/log"
LOG_TAIL = 4 * 1024 * 1024
INTERACTIVE = "if [ -x /bin/bash ]; then exec /bin/bash -i; fi\nexec /bin/sh -i"
_TERM = re.compile(r"[A-Za-z0-9._+-]{1,64}")


def script_for(command: str, tty: bool) -> str:
    """What dash runs in the sandbox: the caller's command line, as ssh gives it to a shell."""
    if command:
        return command
    return INTERACTIVE if tty else "exec /bin/sh"


def _log_copy(path: Path) -> int:
    fd = os.memfd_create("shipway-ssh-log", os.MFD_CLOEXEC)
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - LOG_TAIL))
            data = f.read(LOG_TAIL)
    except OSError:
        data = b""
    while data:
        data = data[os.write(fd, data):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@contextlib.contextmanager
def log_binds(launch: Launch) -> Iterator[tuple[list[str], tuple[int, ...]]]:
    """bwrap options putting the app's logs at /var/log, and the fds they read."""
    fds = tuple(_log_copy(launch.instance.log(name)) for name in LOGS)
    args = ["--perms", "0755", "--dir", "/var", "--perms", "0755", "--dir", LOG_DIR]
    for fd, name in zip(fds, LOGS, strict=True):
        args += ["--perms", "0444", "--ro-bind-data", str(fd), f"{LOG_DIR}/{name}"]
    try:
        yield args, fds
    finally:
        for fd in fds:
            os.close(fd)


def _with_term(launch: Launch, term: str | None) -> dict[str, str]:
    env = dict(launch.env)
    if term and _TERM.fullmatch(term):
        env["TERM"] = term
    return env


def session_argv(launch: Launch, command: str, tty: bool, extra: list[str],
                 term: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The sandbox argv (bwrap's options plus `extra`) and its environment."""
    sandboxed = bwrap_command(sandbox_spec(launch, with_dot_environment(script_for(command, tty))))
    argv = list(sandboxed.argv)
    at = argv.index(probe_host_layout().bwrap) + 1
    argv[at:at] = extra
    prefix = ["setpriv", "--pdeathsig", "KILL", "--"]
    if tty:
        prefix += ["setsid", "--ctty", "--wait"]
    return prefix + argv, _with_term(launch, term)


def run_session(launch: Launch, command: str, fds: tuple[int, int, int], tty: bool,
                term: str | None, wait: Callable[[subprocess.Popen[bytes]], int]) -> int:
    """Run the session to its end (or until `wait` gives up on it); its exit status."""
    group, _why = pids.create(launch.pids_max, pids.transient_name(launch.instance.home, "ssh"),
                              "apps")
    try:
        with log_binds(launch) as (extra, log_fds):
            argv, env = session_argv(launch, command, tty, extra, term)
            argv = group.wrap(argv) if group is not None else argv
            with envfd.passed(argv, env) as (args, own_env, env_fds):
                proc = subprocess.Popen(
                    args, env=own_env, pass_fds=(*env_fds, *log_fds), stdin=fds[0],
                    stdout=fds[1], stderr=fds[2], close_fds=True, start_new_session=not tty)
        return wait(proc)
    finally:
        if group is not None:
            group.kill_all()
            group.remove()
