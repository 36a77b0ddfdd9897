"""How a sandbox gets its environment without any root-run process or argv
carrying it (S3).

Theory of operation. Every process before the sandboxed command runs as
root: the cgroup entry shell, bindexec, bwrap, and setpriv inside the
sandbox until it drops to the app's uid. Started with the app's variables
as their environment, a user variable such as LD_PRELOAD or GCONV_PATH
would be honoured by the dynamic loader of a root process (setpriv keeps
root's powers in the sandbox's mount namespace); on the argv
(`--setenv NAME VALUE`), every value is in `ps` for every host user. So:

- the root-run chain keeps the control plane's environment, and bwrap gives
  setpriv a fixed PATH only (`--clearenv --setenv PATH BOOT_PATH`);
- the variables are a shell file of `NAME='value'` lines on a memfd, which
  bwrap puts read-only at ENV_FILE (`--ro-bind-data ENV_FD ENV_FILE`; the
  spawner swaps ENV_FD for the memfd's number: `passed`);
- after setpriv, LOADER (dash, now the app's uid) exports the file's
  variables and execs the command.

The file is the app's own environment, in its own mount namespace: only
its uid and root can reach it. A name must be a shell identifier to be
loaded this way, which variable:create and config validation already ask.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from shipway.encoding import is_env_name

ENV_FD = "{sandbox-env-fd}"
ENV_FILE = "/run/shipway/env"
BOOT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
LOADER = ("/bin/sh", "-c", f'set -a; . {ENV_FILE}; set +a; exec "$@"', "shipway-env")


def env_script(env: Mapping[str, str]) -> bytes:
    """The ENV_FILE text that sets exactly `env` in dash (pure)."""
    lines = []
    for name, value in sorted(env.items()):
        if not is_env_name(name) or "\0" in value:
            raise ValueError(f"bad environment variable {name!r}")
        quoted = value.replace("'", "'\\''")
        lines.append(f"{name}='{quoted}'\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


@contextlib.contextmanager
def passed(argv: Sequence[str], env: Mapping[str, str] | None
           ) -> Iterator[tuple[list[str], dict[str, str] | None, tuple[int, ...]]]:
    """(argv, env, pass_fds) to spawn with. An argv without ENV_FD is left
    alone (env as given); with it, `env` travels on a memfd, closed on exit,
    and the spawned process inherits our own environment."""
    if ENV_FD not in argv:
        yield list(argv), None if env is None else dict(env), ()
        return
    fd = os.memfd_create("shipway-sandbox-env", os.MFD_CLOEXEC)
    try:
        payload = env_script(env or {})
        while payload:
            payload = payload[os.write(fd, payload):]
        os.lseek(fd, 0, os.SEEK_SET)
        yield [str(fd) if arg == ENV_FD else arg for arg in argv], None, (fd,)
    finally:
        os.close(fd)


def popen(argv: Sequence[str], env: Mapping[str, str] | None, **options: Any
          ) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session with `env` passed as `passed` says."""
    with passed(argv, env) as (args, own_env, fds):
        return subprocess.Popen(args, env=own_env, pass_fds=fds, start_new_session=True,
                                close_fds=True, **options)
