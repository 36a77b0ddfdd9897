"""What one push may do to refs, decided before anything is deployed (S7).

The pre-receive hook's stdin and the ref names are the pusher's: each line
is checked, and the whole push is refused (git then moves no ref) before
any branch of it starts to build.
"""

from __future__ import annotations

import re

from shipway.environments.names import environment_name_problem
from shipway.environments.registry import PRODUCTION_BRANCH
from shipway.errors import UsageError
from shipway.git.repos import ZERO_SHA

_SHA = re.compile(r"[0-9a-f]{40}")
STORED_PREFIXES = ("refs/heads/", "refs/tags/")


def parse_updates(text: str) -> list[dict[str, str]]:
    """Git's pre-receive stdin: one `<old> <new> <ref>` line per ref."""
    updates = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split(" ")
        if len(fields) != 3 or not all(_SHA.fullmatch(f) for f in fields[:2]) or not fields[2]:
            raise UsageError(f"malformed ref update on line {number}: expected "
                             "'<old-sha> <new-sha> <ref>' as git sends it")
        updates.append({"old": fields[0], "new": fields[1], "ref": fields[2]})
    return updates


def check_updates(updates: list[dict[str, str]]) -> None:
    """Refuse the push if any of its ref updates may not happen; else return."""
    for update in updates:
        if not isinstance(update, dict) or not all(
                isinstance(update.get(k), str) for k in ("old", "new", "ref")):
            raise UsageError("malformed ref update: expected old, new and ref")
        old, new, ref = update["old"], update["new"], update["ref"]
        if not (_SHA.fullmatch(old) and _SHA.fullmatch(new)):
            raise UsageError(f"malformed ref update for {ref!r}: old and new must be commit ids")
        if not ref.startswith(STORED_PREFIXES):
            raise UsageError(f"ref {ref!r} refused: shipway keeps branches (refs/heads/) "
                             "and tags (refs/tags/) only")
        if not ref.startswith("refs/heads/"):
            continue
        branch = ref.removeprefix("refs/heads/")
        if new == ZERO_SHA:
            if branch == PRODUCTION_BRANCH:
                raise UsageError(f"deleting {PRODUCTION_BRANCH!r} refused: it is the production "
                                 "environment's branch")
            continue
        problem = environment_name_problem(branch)
        if problem is not None:
            raise UsageError(f"branch {branch!r} refused: it cannot be an environment: {problem}")
