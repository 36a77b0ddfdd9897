"""A sandbox's environment reaches bwrap on a file descriptor, not on its argv
or in its own environment (S3).

bwrap runs as root, and so do the wrappers before it (the cgroup entry shell,
bindexec): started with the app's variables as their environment, a user
variable such as LD_PRELOAD or GCONV_PATH would be honoured by the dynamic
loader of a root process; on the argv (`--setenv NAME VALUE`), every value
is in `ps` for every host user. So `bwrap_command` puts `--args ENV_FD` in
the argv, and whoever spawns it swaps ENV_FD for a memfd holding
`--clearenv --setenv NAME VALUE …` (NUL-separated, bwrap's --args format).
bwrap reads it and gives exactly that environment to the sandboxed command;
the processes before it keep the control plane's own environment.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence

ENV_FD = "{sandbox-env-fd}"


def env_args(env: Mapping[str, str]) -> bytes:
    """bwrap's --args payload that sets exactly `env` (pure)."""
    words = ["--clearenv"]
    for key, value in sorted(env.items()):
        words += ["--setenv", key, value]
    return b"".join(word.encode() + b"\0" for word in words)


@contextlib.contextmanager
def passed(argv: Sequence[str], env: Mapping[str, str] | None
           ) -> Iterator[tuple[list[str], dict[str, str] | None, tuple[int, ...]]]:
    """(argv, env, pass_fds) to spawn with. An argv without ENV_FD is left
    alone (env as given); with it, `env` travels on a memfd, closed on exit."""
    if ENV_FD not in argv:
        yield list(argv), None if env is None else dict(env), ()
        return
    fd = os.memfd_create("shipway-sandbox-env", os.MFD_CLOEXEC)
    try:
        payload = env_args(env or {})
        while payload:
            payload = payload[os.write(fd, payload):]
        os.lseek(fd, 0, os.SEEK_SET)
        yield [str(fd) if arg == ENV_FD else arg for arg in argv], None, (fd,)
    finally:
        os.close(fd)
