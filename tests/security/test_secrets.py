"""S3: no secret in any argv, world-readable file or log.

The attacker is any unprivileged user of the host (here `nobody`, via
setpriv): with a project deployed that has a sensitive variable and a
PostgreSQL service, they read every file under SHIPWAY_HOME they can open,
`ps -eo args`, and every /proc/*/cmdline and /proc/*/environ; none of the
sensitive value, the service's password and the router CA's private key
may appear anywhere.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import STDLIB, Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
SECRET = f"sw-s3cr3t-{uuid.uuid4().hex}"
OTHER_SECRET = f"sw-other-{uuid.uuid4().hex}"
SERVICES = "db:\n  type: postgresql:15\n  disk: 256\n"

# Run as nobody with Debian's python (pyenv's lives under /root). The needles
# come on stdin: on argv they would be in our own cmdline for it to find.
READER = r"""
import json, os, stat, subprocess, sys
given = json.load(sys.stdin)
needles, paths = given["needles"], given["paths"]
found, opened = [], 0

def check(where, data):
    for name, needle in needles.items():
        if needle.encode() in data:
            found.append([name, where])

def read(path):
    global opened
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            opened += 1
            with os.fdopen(fd, "rb", closefd=False) as f:
                check(path, f.read())
    except OSError:
        pass
    finally:
        os.close(fd)

for path in paths:
    read(path)
for pid in filter(str.isdigit, os.listdir("/proc")):
    for what in ("cmdline", "environ"):
        read(f"/proc/{pid}/{what}")
ps = subprocess.run(["ps", "-eo", "args"], capture_output=True).stdout
check("ps -eo args", ps)
print(json.dumps({"found": found, "opened": opened, "ps_lines": ps.count(b"\n")}))
"""


def every_file(home: Path) -> list[str]:
    """Every name under `home`, as root sees them: the attacker is assumed
    to know (guess) every path, so unlistable directories hide nothing."""
    return [str(path) for path in home.rglob("*") if not path.is_dir() or path.is_symlink()]


def as_nobody_read(home: Path, needles: dict[str, str]) -> dict:
    given = {"needles": needles, "paths": every_file(home)}
    proc = subprocess.run([*NOBODY, "/usr/bin/python3", "-c", READER],
                          input=json.dumps(given), capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def deployed(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A project with a sensitive variable and PostgreSQL; the secrets an attacker wants."""
    remote = shipway.create_project("sec")
    repo = make_repo(tmp_path_factory.mktemp("sec") / "repo", STDLIB)
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace(
        "mounts:", "relationships:\n  database: \"db:postgresql\"\nmounts:"))
    (repo / ".platform").mkdir()
    (repo / ".platform" / "services.yaml").write_text(SERVICES)
    commit(repo, "app with a database")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    created = shipway.cli("variable:create", "-p", "sec", "-e", "main", "-l", "environment",
                          "--prefix", "env:", "--name", "API_TOKEN", "--value", SECRET,
                          "--sensitive", "true", "--visible-build", "true")
    # Not env:-prefixed, so it travels inside PLATFORM_VARIABLES (base64 JSON).
    shipway.cli("variable:create", "-p", "sec", "-e", "main", "-l", "environment",
                "--name", "misc:signing_key", "--value", OTHER_SECRET, "--sensitive", "true")
    env = json.loads(shipway.fetch(shipway.url("sec") + "env")[1])
    assert env["API_TOKEN"] == SECRET  # the app does get them
    variables = json.loads(base64.b64decode(env["PLATFORM_VARIABLES"]))
    assert variables["misc:signing_key"] == OTHER_SECRET
    db = json.loads(base64.b64decode(env["PLATFORM_RELATIONSHIPS"]))["database"][0]
    key = (shipway.home / "router" / "storage" / "pki" / "authorities" / "local" / "root.key")
    key_body = "".join(line for line in key.read_text().splitlines() if "-----" not in line)
    return {"sensitive variable": SECRET, "service password": db["password"],
            "router CA key": key_body[:40], "relationships": env["PLATFORM_RELATIONSHIPS"],
            "variables": env["PLATFORM_VARIABLES"], "_output": created.stdout + out.stdout}


def test_nobody_finds_no_secret_in_files_argv_or_environ(shipway: Shipway, deployed: dict) -> None:
    needles = {k: v for k, v in deployed.items() if not k.startswith("_")}
    seen = as_nobody_read(shipway.home, needles)
    assert seen["opened"] > 0 and seen["ps_lines"] > 10  # the reader did read things
    assert seen["found"] == [], "\n".join(f"{what} readable in {where}" for what, where in seen["found"])
