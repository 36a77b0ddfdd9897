"""What the tenant boundary's network checks cost (S4, S6): run as root.

- guarding one app port (services/isolation.allow: nft list + one transaction),
  as every deploy and restart now does for each TCP app;
- the listener check before a TCP app's gate opens (deploy/listeners.py);
- claiming an instance's ranges at `shipway serve` (claims.claim_ranges).

    .venv/bin/python bench/network_guards.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from shipway.claims import claim_ranges
from shipway.deploy.listeners import check_own_listener
from shipway.services import isolation
from shipway.settings import load_settings

ROUNDS = 20


def timed(action, rounds: int = ROUNDS) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for i in range(rounds):
        started = time.perf_counter()
        action(i)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    table = f"swbench_{os.getpid()}"
    try:
        guard = timed(lambda i: isolation.allow(table, 31_000 + i, {0, 999_999, 888_100}))
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True, check=False)
    listener = timed(lambda i: check_own_listener(31_999, 0))
    with tempfile.TemporaryDirectory() as tmp:
        def claim(i: int) -> None:
            home = Path(tmp) / f"h{i}"
            home.mkdir()
            _, held = claim_ranges(load_settings({"SHIPWAY_HOME": str(home)}), Path(tmp) / "c")
            held.release()

        claiming = timed(claim)
    print(f"guard one app port (nft):        {guard:6.1f} ms median of {ROUNDS}")
    print(f"listener check (/proc/net/tcp):  {listener:6.1f} ms median of {ROUNDS}")
    print(f"claim ranges at serve start:     {claiming:6.1f} ms median of {ROUNDS} "
          f"(up to {ROUNDS} other claims)")


if __name__ == "__main__":
    main()
