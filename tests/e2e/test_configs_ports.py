"""C6a end to end: an app that hard-codes the standard ports reaches its
services at their relationship host names (database.internal:5432,
cache.internal:6379), and another project's app does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Shipway, commit, push, stdlib_with_postgres

pytestmark = pytest.mark.e2e

PROBE = """python3 - <<'PY'
import socket
for host, port, hello in (("database.internal", 5432, None), ("cache.internal", 6379, b"PING\\r\\n")):
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            if hello:
                s.sendall(hello)
                print("probe", host, port, s.recv(16).decode().strip())
            else:
                print("probe", host, port, "connected")
    except OSError as exc:
        print("probe", host, port, "refused", exc)
PY
"""


def probe_repo(path: Path) -> Path:
    repo = stdlib_with_postgres(path)
    cfg = repo / ".platform.app.yaml"
    rel = 'database: "db:postgresql"'
    text = cfg.read_text().replace(rel, rel + '\n  cache: "cache:redis"')
    hook = "".join(f"    {line}\n" for line in PROBE.splitlines())
    text = text.replace("  deploy: |\n", "  deploy: |\n" + hook)
    cfg.write_text(text)
    (repo / ".platform" / "services.yaml").write_text(
        "db:\n  type: postgresql:15\n  disk: 256\ncache:\n  type: redis:7.0\n")
    commit(repo, "probe the standard ports")
    return repo


def test_c6a_services_answer_on_standard_ports_at_their_host_names(shipway: Shipway, tmp_path: Path
                                                                   ) -> None:
    out = push(probe_repo(tmp_path / "r"), shipway.create_project("stdports"))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "probe database.internal 5432 connected" in log, log
    assert "probe cache.internal 6379 +PONG" in log, log
