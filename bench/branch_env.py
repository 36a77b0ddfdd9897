"""Branching an environment with data, end to end (issue 5): `environment:branch` of a parent
whose mounts and PostgreSQL hold real data; prints the clone time the activity log reports,
the time until the child answers, and `cp -a` of the same data for comparison.

Run as root: .venv/bin/python bench/branch_env.py [--mounts-mb 1024] [--db-mb 512]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import STDLIB, commit, make_repo, push, running_shipway  # noqa: E402

SERVICES = "db:\n  type: postgresql:15\n  disk: 8192\n"


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--mounts-mb", type=int, default=1024)
    args.add_argument("--db-mb", type=int, default=512)
    opts = args.parse_args()
    work = Path(tempfile.mkdtemp(prefix="branch-bench-"))
    with running_shipway({"SHIPWAY_DATA_POOL_MB": str(4 * (opts.mounts_mb + opts.db_mb) + 2048)}) as sw:
        remote = sw.create_project("bench")
        repo = make_repo(work / "repo", STDLIB)
        cfg = repo / ".platform.app.yaml"
        cfg.write_text(cfg.read_text().replace(
            "mounts:", "relationships:\n  database: \"db:postgresql\"\nmounts:"))
        (repo / ".platform").mkdir()
        (repo / ".platform" / "services.yaml").write_text(SERVICES)
        commit(repo, "app")
        assert push(repo, remote).returncode == 0
        url = sw.url("bench")
        variables = json.loads(sw.fetch(url + "env")[1])
        db = json.loads(base64.b64decode(variables["PLATFORM_RELATIONSHIPS"]))["database"][0]
        dsn = f"postgresql://{db['username']}:{db['password']}@127.0.0.1:{db['port']}/{db['path']}"
        rows = opts.db_mb * 1024 * 1024 // 1100  # ~1.1 kB a row on disk
        subprocess.run(["psql", "-q", dsn, "-c", "create table big as select g, repeat(md5(g::text), 30) "
                        f"as pad from generate_series(1, {rows}) g"], check=True)
        mounts = sw.app_data("bench") / "mounts" / "data"
        for i in range(opts.mounts_mb // 4):
            (mounts / f"file-{i:05}.bin").write_bytes(bytes(4 * 1024 * 1024))
        subprocess.run(["sync"], check=True)
        data = sw.home / "volumes" / "vol" / "bench" / "main"
        size = subprocess.run(["du", "-sm", str(data)], capture_output=True, text=True).stdout.split()[0]
        started = time.monotonic()
        out = sw.cli("environment:branch", "child", "main", "-p", "bench").stdout
        answered = time.monotonic() - started
        clone_ms = re.search(r"cloned from 'main' in (\d+) ms by (.+)", out)
        child = sw.url("bench", "child")
        assert sw.fetch(child)[0] == 200
        copy_dst = sw.home / "cp-baseline"
        copy_started = time.monotonic()
        subprocess.run(["cp", "-a", "--reflink=never", str(data), str(copy_dst)], check=True)
        copied = time.monotonic() - copy_started
        shutil.rmtree(copy_dst)
    shutil.rmtree(work, ignore_errors=True)
    print(f"parent data: {size} MB (mounts {opts.mounts_mb} MB, PostgreSQL ~{opts.db_mb} MB)")
    if clone_ms:
        print(f"clone: {clone_ms.group(1)} ms by {clone_ms.group(2)}")
    print(f"cp -a of the same data (no reflink): {copied:.2f} s")
    print(f"environment:branch until the child answers: {answered:.2f} s "
          "(clone + deploy with its own PostgreSQL start)")


if __name__ == "__main__":
    main()
