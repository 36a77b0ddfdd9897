"""S3: no secret in any argv, world-readable file or log.

The attacker is an unprivileged user of the host (`nobody`, another
tenant's app uid in the apps group, or the router's uid; via setpriv): with
a project deployed that has sensitive variables and a PostgreSQL service,
they open every path under SHIPWAY_HOME (all names given: an unlistable
directory hides nothing), read `ps -eo args` and every /proc/*/cmdline and
/proc/*/environ; none of the sensitive values, the service's password (nor
the base64 blobs holding them) and the router CA's private key may appear.
Hooks that dump their environment must show `(sensitive)` instead, in the
push output, the activity logs and the hooks' own log files.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from shipway.settings import load_settings
from tests.e2e.conftest import (
    ROOT,
    SHIPWAY,
    STDLIB,
    Shipway,
    commit,
    free_port,
    make_repo,
    push,
    running_shipway,
)

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


def as_nobody_read(home: Path, needles: dict[str, str], who: list[str] = NOBODY) -> dict:
    given = {"needles": needles, "paths": every_file(home)}
    proc = subprocess.run([*who, "/usr/bin/python3", "-c", READER],
                          input=json.dumps(given), capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def deployed(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A project with a sensitive variable and PostgreSQL; the secrets an attacker wants."""
    remote = shipway.create_project("sec")
    repo = make_repo(tmp_path_factory.mktemp("sec") / "repo", STDLIB)
    cfg = repo / ".platform.app.yaml"
    # Hooks that dump what they were given, as a debugging user's would.
    cfg.write_text(cfg.read_text().replace(
        "mounts:", "relationships:\n  database: \"db:postgresql\"\nmounts:").replace(
        '    echo "building stdlib app"', '    echo "building with token=$API_TOKEN"; env').replace(
        '    echo "deploy hook ran', '    echo "deploy token=$API_TOKEN"; env\n    echo "deploy hook ran'))
    (repo / ".platform").mkdir()
    (repo / ".platform" / "services.yaml").write_text(SERVICES)
    commit(repo, "app with a database")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    # From stdin (`--value -`): on the CLI's argv it would be in `ps` during the redeploy.
    created = subprocess.run([*SHIPWAY, "variable:create", "-p", "sec", "-e", "main", "-l",
                              "environment", "--prefix", "env:", "--name", "API_TOKEN",
                              "--value", "-", "--sensitive", "true", "--visible-build", "true"],
                             input=SECRET + "\n", env=shipway.env, capture_output=True, text=True,
                             timeout=300, check=True)
    # Not env:-prefixed, so it travels inside PLATFORM_VARIABLES (base64 JSON).
    subprocess.run([*SHIPWAY, "variable:create", "-p", "sec", "-e", "main", "-l", "environment",
                    "--name", "misc:signing_key", "--value", "-", "--sensitive", "true"],
                   input=OTHER_SECRET, env=shipway.env, capture_output=True, text=True,
                   timeout=300, check=True)
    env = json.loads(shipway.fetch(shipway.url("sec") + "env")[1])
    assert env["API_TOKEN"] == SECRET  # the app does get them
    variables = json.loads(base64.b64decode(env["PLATFORM_VARIABLES"]))
    assert variables["misc:signing_key"] == OTHER_SECRET
    db = json.loads(base64.b64decode(env["PLATFORM_RELATIONSHIPS"]))["database"][0]
    key = (shipway.home / "router" / "storage" / "pki" / "authorities" / "local" / "root.key")
    key_body = "".join(line for line in key.read_text().splitlines() if "-----" not in line)
    (repo / "touched.txt").write_text("new code: the deploy hook runs again, with the secrets\n")
    commit(repo, "new code")
    again = push(repo, remote)
    assert again.returncode == 0, again.stdout + again.stderr
    return {"sensitive variable": SECRET, "other sensitive variable": OTHER_SECRET,
            "service password": db["password"], "router CA key": key_body[:40],
            "relationships": env["PLATFORM_RELATIONSHIPS"], "variables": env["PLATFORM_VARIABLES"],
            "_output": created.stdout + created.stderr + again.stdout + again.stderr}


def another_tenant(shipway: Shipway) -> list[str]:
    """An app of another environment: its own app uid, in the apps group
    (which the router is in too, to reach app sockets)."""
    settings = load_settings(shipway.env)
    uid, group = settings.app_uid(77), settings.apps_gid
    return ["setpriv", f"--reuid={uid}", f"--regid={group}", f"--groups={group}", "--"]


def the_router(shipway: Shipway) -> list[str]:
    """Caddy's uid and groups: an exploited router must not reach the tenants' secrets."""
    settings = load_settings(shipway.env)
    uid, group = settings.router_uid, settings.apps_gid
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", f"--groups={group}", "--"]


@pytest.mark.parametrize("who", ["nobody", "another tenant's app", "the router"])
def test_nobody_finds_no_secret_in_files_argv_or_environ(shipway: Shipway, deployed: dict,
                                                         who: str) -> None:
    needles = {k: v for k, v in deployed.items() if not k.startswith("_")}
    if who == "the router":
        del needles["router CA key"]  # its own, in its own home
    reader = {"nobody": NOBODY, "another tenant's app": another_tenant(shipway),
              "the router": the_router(shipway)}[who]
    seen = as_nobody_read(shipway.home, needles, reader)
    assert seen["opened"] > 0 and seen["ps_lines"] > 10  # the reader did read things
    assert seen["found"] == [], "\n".join(f"{what} readable in {where}" for what, where in seen["found"])


def test_an_upgraded_home_is_made_private_at_start(shipway: Shipway, deployed: dict) -> None:
    """A home an older shipway left world-readable (0755 directories, 0644
    files) is fixed by the next `shipway serve`, and the site still answers."""
    for rel in ("state", "activities", "logs", "storage", "services", "git"):
        (shipway.home / rel).chmod(0o755)
    for db in (shipway.home / "state").iterdir():
        db.chmod(0o644)
    needles = {k: v for k, v in deployed.items() if not k.startswith("_")}
    assert as_nobody_read(shipway.home, needles)["found"]  # the old home leaks: the test can fail
    assert shipway.proc is not None
    shipway.proc.terminate()
    shipway.proc.wait(timeout=30)
    shipway.start()
    assert "S3: root-only state, logs, keys" in shipway.serve_log.read_text()
    assert as_nobody_read(shipway.home, needles)["found"] == []
    assert shipway.fetch(shipway.url("sec"))[0] == 200


def test_serve_refuses_a_home_the_router_cannot_reach_and_says_what_to_do() -> None:
    closed = Path(tempfile.mkdtemp(prefix="shipway-0700-"))  # 0700, as `mktemp -d` makes it
    env = {**os.environ, "SHIPWAY_HOME": str(closed / "home"), "PYTHONPATH": str(ROOT / "src"),
           "SHIPWAY_HTTP_PORT": str(free_port()), "SHIPWAY_HTTPS_PORT": str(free_port()),
           "SHIPWAY_LISTEN": "127.0.0.1"}
    try:
        proc = subprocess.run([*SHIPWAY, "serve"], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        said = proc.stdout + proc.stderr
        assert proc.returncode != 0, said
        assert f"chmod o+x {closed}" in said and "set SHIPWAY_HOME" in said, said
        assert "Traceback" not in said
        started = [pid for pid in filter(str.isdigit, os.listdir("/proc"))
                   if str(closed).encode() in _cmdline(pid)]
        assert started == []  # refused before anything (Caddy) started
    finally:
        shutil.rmtree(closed, ignore_errors=True)


def test_a_0700_home_itself_is_served() -> None:
    """SHIPWAY_HOME is shipway's own: made traversable (0711), not refused."""
    with running_shipway(home_mode=0o700) as sw:
        assert stat.S_IMODE(sw.home.stat().st_mode) == 0o711
        status, body = sw.fetch(f"http://nowhere.localhost:{sw.env['SHIPWAY_HTTP_PORT']}/")
        assert status == 404 and "no route matches" in body  # the router answers


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_hooks_dumping_their_environment_show_no_sensitive_value(shipway: Shipway,
                                                                 deployed: dict) -> None:
    output = deployed["_output"]
    assert "building with token=(sensitive)" in output  # the build ran with it, masked
    assert "deploy token=(sensitive)" in output and "API_TOKEN=(sensitive)" in output
    assert "PLATFORM_VARIABLES=(sensitive)" in output  # base64 JSON holding one
    assert "PLATFORM_RELATIONSHIPS=(sensitive)" in output  # holding the service password
    hook_logs = [p for p in (shipway.home / "logs").rglob("*.log") if p.name != "app.log"]
    assert any(p.name == "deploy.log" for p in hook_logs)
    logs = "".join(p.read_text() for p in [*(shipway.home / "activities").glob("*.log"), *hook_logs])
    for name in ("sensitive variable", "other sensitive variable", "service password",
                 "relationships", "variables"):
        assert deployed[name] not in output and deployed[name] not in logs, (name, [
            line for line in (output + logs).splitlines() if deployed[name] in line][:3])

