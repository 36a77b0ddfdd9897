"""Which branch names may become environments (S7).

An environment's name is a path component of its run, log and volume
directories and of its volume's name: `main/app` would sit inside main's
app directory, `main.restoring` is main's restore scratch volume, and a
long name overflows a unix socket path (108 bytes). Git allows all of
these, so the rule is shipway's own.
"""

from __future__ import annotations

import re

from shipway.errors import UsageError

MAX_LENGTH = 48
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RESERVED_SUFFIXES = (".restoring", ".lock")


def environment_name_problem(name: str) -> str | None:
    """Why `name` cannot be an environment (None: it can)."""
    if not name:
        return "it is empty"
    if len(name) > MAX_LENGTH:
        return f"it is longer than {MAX_LENGTH} characters"
    if "/" in name:
        return "it contains '/' (an environment name is one directory name)"
    if not _NAME.fullmatch(name):
        return ("use ASCII letters, digits, '.', '_' and '-', starting with a letter or digit"
                " (no spaces, shell metacharacters or non-ASCII)")
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"names ending in {suffix!r} are kept for shipway's own use"
    return None


def check_environment_name(name: str) -> None:
    problem = environment_name_problem(name)
    if problem is not None:
        raise UsageError(f"branch {name!r} cannot be an environment: {problem}")
