"""`disk` is enforced (issue 6): an environment cannot write more than its config gives it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e

FILL = """\
  deploy: |
    dd if=/dev/urandom of=/app/data/big bs=1M count=400 2>&1 || true
    echo "kept $(( $(stat -c %s /app/data/big) / 1048576 )) MB"
    rm -f /app/data/big
"""


def test_disk_limits_what_the_environment_writes(shipway: Shipway, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", STDLIB)
    cfg = repo / ".platform.app.yaml"
    text = cfg.read_text().replace("mounts:", "disk: 128\nmounts:", 1)
    start = text.index("  deploy: |")
    end = text.index("  post_deploy: |")
    cfg.write_text(text[:start] + FILL + text[end:])
    commit(repo, "a small disk")
    out = push(repo, shipway.create_project("small"))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    # The worker has a disk of its own, the app's size (Platform.sh's rule).
    assert "Data: volume limited to 256 MB (app 128, app--beater 128)" in log, log
    assert "Disk quota exceeded" in log, log
    kept = int(log.split("kept ", 1)[1].split(" MB", 1)[0])
    assert 200 <= kept <= 256, log
    assert shipway.fetch(shipway.url("small"))[0] == 200  # the app itself is unharmed
