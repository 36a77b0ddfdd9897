"""The one rule for every path a config names (S1): relative, normalised, inside.

A config names paths in the app (location roots, `index` files, mount keys),
in a mount's volume (`source_path`) and in the repository (`source.root`).
Each is later joined to a host directory that root creates, chowns, binds or
serves, so the model must only ever hold a path that cannot leave its base
however it is joined: no `..` segment, no NUL or control character, no
segment longer than a file name may be. `app_path()` is that rule.

A leading `/` is not refused: Platform.sh reads every one of these paths
relative to its base and ignores leading and trailing slashes (the CLI's
legacy default is `document_root: /public`; mount keys are written `/web/uploads`
as often as `web/uploads`, reference §1.1, §1.3). So `/etc` means the app's
own `etc`, never the host's; callers warn where that reading could surprise.
"""

from __future__ import annotations

import re

# Linux's PATH_MAX and NAME_MAX (bytes): beyond them every later open() fails.
MAX_PATH_BYTES = 4096
MAX_SEGMENT_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Worker names become directory and log file names (worker-<name>.log).
_INSTANCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
ALLOWED = "a path inside the app such as 'public' or 'web/uploads'"


def app_path(written: str) -> str:
    """`written` normalised ("" is the base itself); ValueError says what is allowed."""
    check_text(written)
    segments = [s for s in written.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise ValueError(f"'{_shown(written)}' must not contain '..' (it would point outside the "
                         f"app or repository); allowed: {ALLOWED}")
    return "/".join(segments)


def dir_path(written: str) -> str:
    """A directory inside the app that is not the app itself (a mount point)."""
    rel = app_path(written)
    if not rel:
        raise ValueError("a mount path must name a directory inside the app, not the app root")
    return rel


def file_name_path(written: str) -> str:
    """A file relative to a location's root (`index` entries)."""
    rel = app_path(written)
    if not rel:
        raise ValueError(f"'{_shown(written)}' names no file; allowed: a file name such as "
                         "'index.html'")
    return rel


def instance_name(written: str) -> str:
    """A worker's name: it becomes part of host directory and log file names."""
    if not _INSTANCE_NAME.fullmatch(written):
        raise ValueError(f"invalid worker name '{_shown(written)}'; allowed: up to 63 letters, "
                         "digits, '_', '-' and '.', starting with a letter or digit")
    return written


def check_text(written: str) -> None:
    """ValueError if `written` could be no path at all (NUL or another control, too long)."""
    if _CONTROL.search(written):
        raise ValueError(f"'{_shown(written)}' contains a control character (such as NUL or a "
                         f"newline); allowed: {ALLOWED}")
    if len(written.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise ValueError(f"the path is longer than {MAX_PATH_BYTES} bytes")
    for segment in written.split("/"):
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
            raise ValueError(f"a path segment is longer than {MAX_SEGMENT_BYTES} bytes "
                             f"('{_shown(segment)}')")


def _shown(text: str) -> str:
    """Safe to print: control characters escaped, long text cut."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= 60 else shown[:57] + "..."


_PASSTHRU = re.compile(r"[A-Za-z0-9_./~@+-]+")


def passthru_problem(target: str) -> str | None:
    """Why `target` cannot be a front controller's URL path (`passthru: /index.php`), or None.

    Plain segments only, none empty, `.` or `..`: the router rewrites a
    request to it and PHP-FPM joins it to the location's root.
    """
    segments = target.split("/")[1:]
    if not target.startswith("/") or any(s in ("", ".", "..") for s in segments) \
            or not _PASSTHRU.fullmatch(target):
        return ("must be true, false or a plain URL path such as '/index.php' (letters, digits, "
                f"_ . ~ @ + -; no empty, '.' or '..' segment); got {target!r}")
    return None
