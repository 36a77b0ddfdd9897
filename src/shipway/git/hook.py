"""The pre-receive hook: forward the push to the control plane, stream its log.

Git shows what a hook prints to the pushing client (prefixed `remote:`), and a
non-zero exit rejects the push — so a failed build refuses the push, as on
Heroku and Dokku, and the ref never moves to an unbuildable commit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from shipway.api.client import ApiClient
from shipway.errors import ShipwayError
from shipway.git.refs import parse_updates
from shipway.git.repos import QUARANTINE_VARS
from shipway.settings import load_settings


def _push_options(environ: dict[str, str]) -> list[str]:
    count = int(environ.get("GIT_PUSH_OPTION_COUNT", "0") or 0)
    return [environ.get(f"GIT_PUSH_OPTION_{i}", "") for i in range(count)]


def main() -> int:
    environ = dict(os.environ)
    repo = Path(environ.get("GIT_DIR", ".")).resolve()
    project = repo.name.removesuffix(".git")
    try:
        updates = parse_updates(sys.stdin.read())
    except ShipwayError as exc:
        print(f"E: {exc}", flush=True)
        return 1
    body = {
        "updates": updates,
        "git_env": {k: str(Path(environ[k]).resolve()) if k != "GIT_ALTERNATE_OBJECT_DIRECTORIES"
                    else environ[k] for k in QUARANTINE_VARS if k in environ},
        "push_options": _push_options(environ),
    }
    ok = True
    try:
        # The local socket even when the pusher's environment names a remote API (A3);
        # acting as the pushing user when the SSH session (access/dispatch.py) names one.
        client = ApiClient(load_settings(), timeout=None, local=True,
                           actor=environ.get("SHIPWAY_PUSH_ACTOR") or None)
        for event in client.stream("POST", f"/projects/{project}/push", body):
            if "log" in event:
                print(event["log"], flush=True)
            if "result" in event:
                # A deploy whose hooks failed still went live (D6): keep the ref in
                # step with what serves. Only a push that deployed nothing is refused.
                ok = ok and (event["result"] == "success" or event.get("deployed", False))
    except ShipwayError as exc:
        print(f"E: {exc}", flush=True)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
