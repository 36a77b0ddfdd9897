"""When a new process counts as started, crashed or late (S6), as a table."""

from __future__ import annotations

import pytest

from shipway.deploy.starting import Start, start_verdict

# (listening, exits so far, waited s, timeout s, verdict)
CASES = [
    (True, 0, 0.1, 120, Start.UP),
    (True, 1, 1.5, 120, Start.UP),        # exited once, then listened after its restart
    (False, 0, 0.1, 120, Start.WAITING),
    (False, 1, 1.0, 120, Start.WAITING),  # one restart is allowed
    (False, 2, 1.2, 120, Start.CRASHED),  # crash-looping: no need to wait for the timeout
    (False, 5, 0.5, 120, Start.CRASHED),
    (False, 0, 120.0, 120, Start.TIMED_OUT),
    (False, 1, 130.0, 120, Start.TIMED_OUT),
    (True, 3, 200.0, 120, Start.UP),      # listening wins: it answers now
]


@pytest.mark.parametrize(("listening", "exits", "waited", "timeout", "verdict"), CASES)
def test_start_verdict(listening: bool, exits: int, waited: float, timeout: float,
                       verdict: Start) -> None:
    assert start_verdict(listening, exits, waited, timeout) is verdict
