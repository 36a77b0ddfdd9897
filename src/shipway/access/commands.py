"""What a forced-command SSH session asked for (A2, A4). Pure.

sshd hands the client's command line to the forced command as
SSH_ORIGINAL_COMMAND, one string the client chose freely. Only three shapes
are accepted, and nothing is ever given to a shell:

- `git-receive-pack '<project>.git'` and `git-upload-pack '<project>.git'`,
  as git itself sends them (single quotes, an optional leading `/`), for a
  project name as the registry allows it — no `/`, no `..`, no other path;
- `ssh -p P -e E [--app A] [-- CMD ...]`: a shell, or CMD, in the running app.

Anything else — an empty line, `bash`, a NUL, a newline, an over-long line —
is refused with one line saying what is allowed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from shipway.environments.names import environment_name_problem
from shipway.environments.registry import PROJECT_NAME
from shipway.errors import UsageError

MAX_COMMAND = 4096
# Project names as the registry allows them: no `.`, `/` or `..` can get through.
_GIT = re.compile(rf"(git-receive-pack|git-upload-pack) '/?({PROJECT_NAME.pattern})\.git/?'")
_APP = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
ALLOWED = ("only `git push`/`git fetch` of a project (ssh://USER@HOST/PROJECT.git) and "
           "`ssh -p PROJECT -e ENVIRONMENT [--app APP] [-- COMMAND]` are allowed here")


class Refused(UsageError):
    """The session asked for something not allowed; str() is the one line to print."""


@dataclass(frozen=True)
class GitRequest:
    service: str  # "git-receive-pack" or "git-upload-pack"
    project: str

    @property
    def action(self) -> str:
        """The role-table action checked before git starts (per-ref push checks come later)."""
        return "view"


@dataclass(frozen=True)
class ShellRequest:
    project: str
    environment: str
    app: str | None = None
    command: str = ""  # a command line for the app's shell, as ssh gives one; "": interactive


Request = GitRequest | ShellRequest


def parse(line: str) -> Request:
    """The request `line` (SSH_ORIGINAL_COMMAND) makes, or Refused."""
    if not line.strip():
        raise Refused(f"no command given; {ALLOWED}")
    if len(line) > MAX_COMMAND or any(c in line for c in "\0\n\r"):
        raise Refused(f"malformed command; {ALLOWED}")
    git = _GIT.fullmatch(line)
    if git:
        return GitRequest(*git.groups())
    try:
        words = shlex.split(line)
    except ValueError:
        raise Refused(f"malformed command; {ALLOWED}") from None
    if words and words[0] == "ssh":
        # The words after `--` are joined with spaces for the app's shell, as ssh
        # joins a remote command (it is read by dash inside the sandbox only).
        cut = words.index("--") if "--" in words else len(words)
        return _shell(words[1:cut], " ".join(words[cut + 1:]))
    raise Refused(f"not allowed: {words[0] if words else line!r}; {ALLOWED}")


def parse_shell_args(words: list[str], command: list[str]) -> ShellRequest:
    """`-p P -e E [--app A]` and the words after `--`, joined as ssh joins them."""
    return _shell(words, " ".join(command))


def _shell(words: list[str], command: str) -> ShellRequest:
    options: dict[str, str] = {}
    names = {"-p": "project", "--project": "project", "-e": "environment",
             "--environment": "environment", "-A": "app", "--app": "app"}
    i = 0
    while i < len(words):
        flag, _, inline = words[i].partition("=")
        key = names.get(flag)
        if key is None or key in options:
            raise Refused(f"ssh: unexpected argument {words[i]!r}; {ALLOWED}")
        value = inline if "=" in words[i] else (words[i + 1] if i + 1 < len(words) else "")
        i += 1 if "=" in words[i] else 2
        options[key] = _checked(key, value)
    if "project" not in options:
        raise Refused(f"ssh: -p PROJECT is required; {ALLOWED}")
    return ShellRequest(options["project"], options.get("environment", "main"),
                        options.get("app"), command)


def _checked(key: str, value: str) -> str:
    if key == "project":
        bad = not PROJECT_NAME.fullmatch(value)
    elif key == "environment":
        bad = environment_name_problem(value) is not None
    else:
        bad = not _APP.fullmatch(value)
    if bad:
        raise Refused(f"ssh: not a valid {key} name: {value!r}")
    return value
