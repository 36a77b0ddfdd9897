"""S5: finding and killing the processes an environment's uids left (environments/leftovers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipway.environments.leftovers import kill_all, processes_of, status_uids

STATUS = "Name:\tsleep\nState:\t{state} (sleeping)\nUid:\t{uids}\nGid:\t0\t0\t0\t0\n"


@pytest.mark.parametrize(
    ("uids", "state", "expected"),
    [
        ("1100\t1100\t1100\t1100", "S", ({1100}, False)),
        ("0\t1100\t0\t0", "R", ({0, 1100}, False)),  # setuid half-way: still one of the uid's
        ("0\t0\t0\t1100", "S", ({0, 1100}, False)),  # fs uid alone
        ("1100\t1100\t1100\t1100", "Z", ({1100}, True)),
    ],
)
def test_status_uids(uids: str, state: str, expected: tuple[set[int], bool]) -> None:
    assert status_uids(STATUS.format(uids=uids, state=state)) == expected


def test_processes_of_reads_every_uid_and_skips_zombies(tmp_path: Path) -> None:
    for pid, uids, state in ((10, "1100\t1100\t1100\t1100", "S"), (11, "0\t0\t1100\t0", "S"),
                             (12, "1100\t1100\t1100\t1100", "Z"), (13, "1\t1\t1\t1", "S")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "status").write_text(STATUS.format(uids=uids, state=state))
    (tmp_path / "self").mkdir()
    (tmp_path / "14").mkdir()  # gone while read
    assert processes_of({1100}, tmp_path) == [10, 11]


@pytest.mark.skipif(os.getuid() != 0, reason="starts a process as another uid")
def test_kill_all_kills_a_detached_process_of_the_uid() -> None:
    uid = 64999  # nobody uses it on a test machine
    assert processes_of({uid}) == []
    proc = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                             sys.executable, "-c", "import time\nwhile True: time.sleep(1)"],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not processes_of({uid}):  # setpriv has not dropped to the uid yet
            assert proc.poll() is None and time.monotonic() < deadline
        assert kill_all({uid}) == [proc.pid]
        assert proc.wait(timeout=10) == -9
        assert processes_of({uid}) == []
    finally:
        proc.kill()
        proc.wait()
