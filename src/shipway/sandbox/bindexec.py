"""Exec bwrap with app-writable bind sources pinned by fd (S1):
`python -m shipway.sandbox.bindexec -- BWRAP ARGS…`.

bwrap's `--bind SRC DEST` resolves SRC by name when the sandbox starts,
following symlinks: a mount directory the app replaced with a symlink
between two starts would bind the symlink's target, writable. So spec.py
writes such binds as `--shipway-bind-beneath BASE REL DEST`; here, just
before exec, each REL is opened beneath BASE without following any symlink
(beneath.py) and handed to bwrap as `--bind-fd FD DEST`, which mounts the
very directory we opened. A refused path stops the start: nothing runs.
The supervisor runs this argv again at every restart, so every start checks.
"""

from __future__ import annotations

import errno
import os
import sys

# Only what opening needs: this runs before every sandbox start.
from shipway.sandbox.envfd import ENV_FD
from shipway.sandbox.openat2 import open_beneath

MODULE = "shipway.sandbox.bindexec"
BIND_BENEATH = "--shipway-bind-beneath"
RO_BIND_BENEATH = "--shipway-ro-bind-beneath"
_REFUSED = (errno.ELOOP, errno.EXDEV, errno.ENOTDIR)


def pinned(argv: list[str]) -> list[str]:
    """`argv` (bwrap's) with every beneath-bind replaced by --bind-fd on a fresh fd."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":  # the sandboxed command follows: never rewritten
            return out + argv[i:]
        if arg in (BIND_BENEATH, RO_BIND_BENEATH):
            base, rel, dest = argv[i + 1 : i + 4]
            base_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fd = open_beneath(base_fd, rel)
            finally:
                os.close(base_fd)
            os.set_inheritable(fd, True)
            out += ["--bind-fd" if arg == BIND_BENEATH else "--ro-bind-fd", str(fd), dest]
            i += 4
            continue
        out.append(arg)
        i += 1
    return out


def runs(cmdline: list[str], argv: list[str]) -> bool:
    """Whether a process whose /proc cmdline is `cmdline` runs `argv` (ours,
    launcher included): after the exec it shows bwrap's argv, pinned."""
    if argv[1:4] != ["-m", MODULE, "--"]:
        return _same(cmdline, argv)
    if _same(cmdline, argv):
        return True  # not yet exec'd
    expected, got = argv[4:], iter(cmdline)
    i = 0
    while i < len(expected):
        arg = expected[i]
        if arg == "--":
            return _same(list(got), expected[i:])
        if arg in (BIND_BENEATH, RO_BIND_BENEATH):
            flag = "--bind-fd" if arg == BIND_BENEATH else "--ro-bind-fd"
            if next(got, None) != flag or not (next(got, None) or "").isdigit() \
                    or next(got, None) != expected[i + 3]:
                return False
            i += 4
            continue
        if not _same([next(got, "")], [arg]):
            return False
        i += 1
    return next(got, None) is None


def _same(cmdline: list[str], argv: list[str]) -> bool:
    """Equal, where argv's ENV_FD placeholder became the memfd's number (envfd.py)."""
    return len(cmdline) == len(argv) and all(
        got == want or (want == ENV_FD and got.isdigit()) for got, want in zip(cmdline, argv, strict=True))


def main(args: list[str]) -> int:
    if not args or args[0] != "--" or len(args) < 2:
        print("usage: python -m shipway.sandbox.bindexec -- BWRAP ARGS…", file=sys.stderr)
        return 2
    try:
        argv = pinned(args[1:])
    except OSError as exc:
        if exc.errno not in _REFUSED:
            raise
        print(f"shipway: mount directory {exc.filename} is a symlink or not a directory (made by "
              "the app?); not bound: remove it from inside the app and push again",
              file=sys.stderr, flush=True)
        return 126
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
