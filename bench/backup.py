"""Backups end to end (issue 15, BK): time to back up and to restore an environment holding
mount files and a PostgreSQL table, the pause of a non-live backup, the repository's growth
after changing one file, and its size after N daily backups with a daily change.

Run as root: .venv/bin/python bench/backup.py [--mounts-mb 1024] [--db-mb 1024] [--days 10]
    [--change 0.01]
Prints figures; asserts nothing. Mount files are random (incompressible, no duplicates);
the table's rows are md5 text (restic's compression shrinks it).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import STDLIB, Shipway, commit, make_repo, push, running_shipway  # noqa: E402

MB = 1 << 20
FILE_MB = 4
SERVICES = "db:\n  type: postgresql:15\n  disk: 8192\n"


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def last(sw: Shipway, type_: str) -> dict:
    found = json.loads(sw.cli("activity:list", "-p", "bench", "--format", "json").stdout)
    return next(a for a in found if a["type"] == type_)


def timed(sw: Shipway, *args: str) -> float:
    started = time.monotonic()
    sw.cli(*args)
    return time.monotonic() - started


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--mounts-mb", type=int, default=1024)
    args.add_argument("--db-mb", type=int, default=1024)
    args.add_argument("--days", type=int, default=10)
    args.add_argument("--change", type=float, default=0.01)
    opts = args.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backup-bench-"))
    repository = work / "repo"
    env = {"SHIPWAY_DATA_POOL_MB": str(4 * (opts.mounts_mb + opts.db_mb) + 2048),
           "SHIPWAY_BACKUP_REPOSITORY": str(repository),
           "SHIPWAY_BACKUP_PASSWORD_FILE": str(work / "secret" / "password")}
    with running_shipway(env) as sw:
        remote = sw.create_project("bench")
        repo = make_repo(work / "app", STDLIB)
        cfg = repo / ".platform.app.yaml"
        cfg.write_text(cfg.read_text().replace(
            "mounts:", "relationships:\n  database: \"db:postgresql\"\nmounts:"))
        (repo / ".platform").mkdir()
        (repo / ".platform" / "services.yaml").write_text(SERVICES)
        commit(repo, "app")
        assert push(repo, remote).returncode == 0
        variables = json.loads(sw.fetch(sw.url("bench") + "env")[1])
        db = json.loads(base64.b64decode(variables["PLATFORM_RELATIONSHIPS"]))["database"][0]
        dsn = f"postgresql://{db['username']}:{db['password']}@127.0.0.1:{db['port']}/{db['path']}"
        rows = opts.db_mb * MB // 1100  # ~1.1 kB a row on disk
        subprocess.run(["psql", "-q", dsn, "-c", "create table big as select g, "
                        f"repeat(md5(g::text), 30) as pad from generate_series(1, {rows}) g"],
                       check=True)
        mounts = sw.app_data("bench") / "mounts" / "data"
        files = opts.mounts_mb // FILE_MB
        for i in range(files):
            (mounts / f"file-{i:05}.bin").write_bytes(os.urandom(FILE_MB * MB))
        subprocess.run(["sync"], check=True)
        volume = sw.home / "volumes" / "vol" / "bench" / "main"
        data_size = du(volume)

        first_s = timed(sw, "backup:create", "-p", "bench", "-e", "main")
        first = last(sw, "environment.backup")
        size_1 = du(repository)
        (mounts / "file-00000.bin").write_bytes(os.urandom(FILE_MB * MB))
        second_s = timed(sw, "backup:create", "-p", "bench", "-e", "main")
        size_2 = du(repository)
        live_s = timed(sw, "backup:create", "-p", "bench", "-e", "main", "--live")
        size_3 = du(repository)

        subprocess.run(["psql", "-q", dsn, "-c", "delete from big where g % 2 = 0"], check=True)
        restore_s = timed(sw, "backup:restore", first["details"]["backup"], "-p", "bench")
        assert sw.fetch(sw.url("bench"))[0] == 200

        pauses = [first["details"]["pause_seconds"]]
        changed_files = max(1, int(files * opts.change))
        changed_rows = max(1, int(rows * opts.change))
        daily = []
        for day in range(opts.days):
            for i in range(changed_files):
                name = f"file-{(day * changed_files + i) % files:05}.bin"
                (mounts / name).write_bytes(os.urandom(FILE_MB * MB))
            subprocess.run(["psql", "-q", dsn, "-c", f"update big set pad = repeat(md5((g + {day + 1})"
                            f"::text), 30) where g % {max(1, rows // changed_rows)} = {day}"],
                           check=True)
            daily.append(timed(sw, "backup:create", "-p", "bench", "-e", "main"))
            pauses.append(last(sw, "environment.backup")["details"]["pause_seconds"])
        size_days = du(repository)
    shutil.rmtree(work, ignore_errors=True)
    print(f"environment data: {data_size / MB:.0f} MB (mounts {opts.mounts_mb} MB random, "
          f"PostgreSQL ~{opts.db_mb} MB)")
    print(f"first backup (non-live): {first_s:.1f} s; repository {size_1 / MB:.0f} MB")
    print(f"second backup after changing one {FILE_MB} MB file: {second_s:.1f} s; repository "
          f"+{(size_2 - size_1) / MB:.1f} MB ({(size_2 - size_1) / size_1 * 100:.2f} % of the first)")
    print(f"live backup, nothing changed: {live_s:.1f} s; repository +{(size_3 - size_2) / MB:.1f} MB")
    print(f"restore of the first backup (data + deploy, until it answers): {restore_s:.1f} s")
    print(f"non-live pause: max {max(pauses) * 1000:.0f} ms, median "
          f"{sorted(pauses)[len(pauses) // 2] * 1000:.0f} ms over {len(pauses)} backups")
    print(f"{opts.days} daily backups with {opts.change:.0%} change each: "
          f"{sum(daily) / len(daily):.1f} s each on average; repository {size_days / MB:.0f} MB "
          f"(first backup {size_1 / MB:.0f} MB)")


if __name__ == "__main__":
    main()
