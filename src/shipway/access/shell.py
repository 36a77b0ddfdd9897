"""A4: a shell, or one command, inside a running app's sandbox, on the caller's descriptors.

The sandbox is the app's own, built by the same code as its web process
(`deploy.instances.sandbox_spec` of the launch `Platform.shell_launch`
gives): the same uid, read-only /app, writable mounts, the environment file
with PLATFORM_RELATIONSHIPS and user variables, the host network filtered
for that uid as the app is, so the app's services answer. Added for the
session only: the app's logs at /var/log/{deploy,post-deploy,app}.log.

The logs under SHIPWAY_HOME stay root's (S3, 0600, in 0700 directories no
other uid passes); each of the three gets one POSIX ACL entry letting the
environment's own app uid read it, and is bound read-only, so `tail -f`
follows it. Where the filesystem has no ACLs, the session gets a read-only
copy of its last LOG_TAIL bytes instead (`--ro-bind-data` from a memfd).

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
import struct
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from shipway.deploy.instances import Launch, sandbox_spec
from shipway.deploy.runenv import with_dot_environment
from shipway.sandbox import envfd, pids
from shipway.sandbox.layout import probe_host_layout
from shipway.sandbox.spec import Bind, bwrap_command

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


def grant_read(path: Path, uid: int) -> bool:
    """Let `uid` read `path` (created empty if missing) through a POSIX ACL entry; the
    file stays root's and 0600 to everyone else. False where the filesystem has no ACLs."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600))
        os.setxattr(path, "system.posix_acl_access", _acl_read_for(uid), follow_symlinks=False)
    except OSError:
        return False
    return True


def _acl_read_for(uid: int) -> bytes:
    """The xattr form of `u::rw-,u:UID:r--,g::---,m::r--,o::---` (linux/posix_acl_xattr.h)."""
    undefined = 0xFFFFFFFF
    entries = [(0x01, 6, undefined), (0x02, 4, uid), (0x04, 0, undefined), (0x10, 4, undefined),
               (0x20, 0, undefined)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


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
def log_views(launch: Launch) -> Iterator[tuple[tuple[Bind, ...], list[str], tuple[int, ...]]]:
    """The app's logs at /var/log: each bound read-only (live) where the app's uid can be
    let read it, else a copy of its last LOG_TAIL bytes. -> (binds, bwrap options, fds)."""
    binds: list[Bind] = []
    args = ["--perms", "0755", "--dir", "/var", "--perms", "0755", "--dir", LOG_DIR]
    fds: list[int] = []
    for name in LOGS:
        path, dest = launch.instance.log(name), f"{LOG_DIR}/{name}"
        if grant_read(path, launch.uid):
            binds.append(Bind(path, dest))  # a root-only tree: no app symlink on the way
        else:
            fds.append(_log_copy(path))
            args += ["--perms", "0444", "--ro-bind-data", str(fds[-1]), dest]
    try:
        yield tuple(binds), args, tuple(fds)
    finally:
        for fd in fds:
            os.close(fd)


def _with_term(launch: Launch, term: str | None) -> dict[str, str]:
    env = dict(launch.env)
    if term and _TERM.fullmatch(term):
        env["TERM"] = term
    return env


def session_argv(launch: Launch, command: str, tty: bool, extra: list[str],
                 term: str | None = None, binds: tuple[Bind, ...] = ()) -> tuple[list[str], dict[str, str]]:
    """The sandbox argv (the app's, plus `binds` and bwrap options `extra`) and its environment."""
    spec = sandbox_spec(launch, with_dot_environment(script_for(command, tty)))
    sandboxed = bwrap_command(replace(spec, binds=(*spec.binds, *binds)))
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
        with log_views(launch) as (binds, extra, log_fds):
            argv, env = session_argv(launch, command, tty, extra, term, binds)
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
