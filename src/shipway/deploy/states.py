"""A deploy's durable lifecycle, and what a restarted control plane does with it (S6). Pure.

Theory of operation. Two rules, as in h11's state machine:
1. Only `next_state` moves a deploy; an event its state has no entry for
   raises and changes nothing.
2. Each state says which release may be running, so after a `kill -9` the
   state alone (plus one fact: is the new commit stored in git) decides
   whether the restarted plane brings the previous release back or finishes
   the new one. No state reruns a hook: recovery only starts processes and
   opens gates.

    holding    requests held; the previous release still runs
    replacing  the previous release is being stopped and the new one started
    started    the new processes listen; post_start and deploy hooks run now
    restoring  the new processes did not start; the previous one comes back
    serving    the new release is current and answers; post_deploy runs
    done       the new release serves           (final)
    failed     the previous release (or nothing) serves (final)
"""

from __future__ import annotations

from enum import Enum

from shipway.errors import PlatformError

# `abort`: the deploy raised before serving; `recover_*`: a restarted plane's decision.
_BACK = {"abort": "failed", "recover_back": "failed"}
TRANSITIONS: dict[str, dict[str, str]] = {
    "holding": {"replace": "replacing", **_BACK},
    "replacing": {"started": "started", "start_failed": "restoring", **_BACK},
    "started": {"serve": "serving", "recover_forward": "done", **_BACK},
    "restoring": {"restored": "failed", **_BACK},
    "serving": {"finish": "done", "recover_forward": "done", "recover_back": "failed"},
    "done": {},
    "failed": {},
}
FINAL = frozenset({"done", "failed"})


def next_state(state: str, event: str) -> str:
    nxt = TRANSITIONS.get(state, {}).get(event)
    if nxt is None:
        raise PlatformError(f"deploy state {state!r} has no event {event!r}")
    return nxt


class Recovery(Enum):
    NOTHING = "nothing"            # the deploy had finished
    BRING_BACK = "bring back"      # stop the new processes, start the previous release
    FINISH_NEW = "finish new"      # the new release becomes (or stays) current; no hook reruns


# Once the new processes listened, hooks may have changed data (a migration):
# going back could run old code on new data, and a failed deploy hook never
# stops a deploy (D6) either — so an interrupted one does not. Before that,
# nothing of the new release ran beyond its start: the previous one is safe.
RECOVERY: dict[str, Recovery] = {
    "holding": Recovery.BRING_BACK,
    "replacing": Recovery.BRING_BACK,
    "restoring": Recovery.BRING_BACK,
    "started": Recovery.FINISH_NEW,
    "serving": Recovery.FINISH_NEW,
    "done": Recovery.NOTHING,
    "failed": Recovery.NOTHING,
}


def recovery(state: str, commit_stored: bool) -> Recovery:
    """What a restarted control plane does with a deploy it finds in `state`.

    `commit_stored`: the new commit is in the repository. A push whose
    pre-receive hook died with the control plane is refused by git; if its
    objects were not kept, that code cannot be served again, so it is
    brought back whatever the state."""
    decision = RECOVERY[state]
    if decision is Recovery.FINISH_NEW and not commit_stored:
        return Recovery.BRING_BACK
    return decision
