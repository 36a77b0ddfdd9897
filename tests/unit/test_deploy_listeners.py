"""S4: who listens on an app's port, read from /proc/net/tcp{,6} text."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.deploy.listeners import check_own_listener, listening_uids
from shipway.errors import AppError

HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
          "timeout inode\n")


def row(local: str, state: str, uid: int, remote: str = "00000000:0000") -> str:
    return (f"   0: {local} {remote} {state} 00000000:00000000 00:00000000 00000000 {uid:>6}"
            "        0 512644 1 00000000aa07953c 100 0 0 10 0\n")


@pytest.mark.parametrize(
    ("table", "port", "uids"),
    [
        (HEADER, 10000, set()),
        (HEADER + row("0100007F:2710", "0A", 200100), 10000, {200100}),  # 127.0.0.1:10000
        (HEADER + row("00000000:2710", "0A", 200100), 10000, {200100}),  # 0.0.0.0:10000
        (HEADER + row("0100007F:2711", "0A", 200100), 10000, set()),  # another port
        # An established connection *from* port 10000 is not a listener.
        (HEADER + row("0100007F:2710", "01", 999, remote="0100007F:D431"), 10000, set()),
        (HEADER + row("0100007F:2710", "0A", 200100) + row("0200007F:2710", "0A", 200101),
         10000, {200100, 200101}),
        (HEADER + row("00000000000000000000000000000000:2710", "0A", 200102), 10000, {200102}),
    ],
)
def test_listening_uids(table: str, port: int, uids: set[int]) -> None:
    assert listening_uids(table, port) == uids


def test_a_squatter_on_the_apps_port_is_refused(tmp_path: Path) -> None:
    tcp, tcp6 = tmp_path / "tcp", tmp_path / "tcp6"
    tcp.write_text(HEADER + row("0100007F:2710", "0A", 200100))
    tcp6.write_text(HEADER)
    check_own_listener(10000, 200100, (tcp, tcp6))
    tcp6.write_text(HEADER + row("00000000000000000000000000000000:2710", "0A", 200105))
    with pytest.raises(AppError, match="port 10000 is held by uid 200105, not by this app"):
        check_own_listener(10000, 200100, (tcp, tcp6, tmp_path / "absent"))
