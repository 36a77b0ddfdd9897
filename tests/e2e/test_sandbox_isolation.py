"""What a command sees and may do inside the sandbox: real bwrap, real uids."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from shipway.sandbox.run import run_oneshot
from shipway.sandbox.spec import Bind, SandboxSpec, passthrough_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bwrap"
    ),
]

UID = 61501
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/app"}


def owned_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, UID, UID)
    return path


def run_sh(tmp_path: Path, script: str, **changes: object) -> tuple[int, str, str]:
    """Run `script` with dash in a sandbox; (status, stdout, stderr)."""
    fields: dict[str, object] = dict(
        command=("/bin/sh", "-c", script),
        app_dir=owned_dir(tmp_path / "app"),
        app_writable=True,
        uid=UID,
        gid=UID,
        env=ENV,
    )
    spec = SandboxSpec(**{**fields, **changes})  # type: ignore[arg-type]
    out: list[str] = []
    err: list[str] = []
    code = run_oneshot(spec, on_line=lambda line, e: (err if e else out).append(line), timeout=30)
    return code, "\n".join(out), "\n".join(err)


def test_system_trees_are_read_only(tmp_path: Path) -> None:
    code, _, err = run_sh(tmp_path, "touch /usr/x || touch /etc/x")
    assert code != 0
    assert err.count("Read-only file system") == 2


def test_writable_app_is_writable(tmp_path: Path) -> None:
    code, _, _ = run_sh(tmp_path, "echo built > /app/out && mkdir /app/.local")
    assert code == 0
    made = tmp_path / "app" / "out"
    assert made.read_text() == "built\n"
    assert made.stat().st_uid == UID


def test_read_only_app_with_a_writable_mount(tmp_path: Path) -> None:
    owned_dir(tmp_path / "app" / "data")  # the mount point, as the freeze creates it
    storage = owned_dir(tmp_path / "storage")
    code, _, err = run_sh(
        tmp_path,
        "touch /app/x; echo kept > /app/data/f",
        app_writable=False,
        binds=(Bind(storage, "/app/data", writable=True),),
    )
    assert code == 0
    assert "Read-only file system" in err
    assert not (tmp_path / "app" / "x").exists()
    assert (storage / "f").read_text() == "kept\n"


def test_runs_unprivileged_without_capabilities(tmp_path: Path) -> None:
    code, out, err = run_sh(
        tmp_path,
        "id -u; id -g; id -G; grep -E '^(Cap|NoNewPrivs)' /proc/self/status; "
        "cat /etc/shadow; mount -t tmpfs none /app",
    )
    lines = out.splitlines()
    assert lines[:3] == [str(UID)] * 3
    status = dict(line.split(":\t") for line in lines[3:])
    assert {k: v for k, v in status.items() if k.startswith("Cap")} == dict.fromkeys(
        ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"), "0000000000000000"
    )
    assert status["NoNewPrivs"] == "1"
    assert "/etc/shadow: Permission denied" in err
    assert code != 0  # mount refused


def test_host_private_trees_are_invisible(tmp_path: Path) -> None:
    code, out, _ = run_sh(
        tmp_path,
        "for d in /root /home /var/lib /srv /work; do "
        "test -e $d && echo visible $d; done; echo run: $(ls -A /run /run/shipway); ls /",
    )
    assert code == 0
    assert "visible" not in out
    # /run is the sandbox's own: only the environment file (sandbox/envfd.py), none of the host's.
    run = out.splitlines()[0]
    assert run == "run: /run: shipway /run/shipway: env", run
    out = "\n".join(out.splitlines()[1:]) + "\n"
    assert set(out.split()) <= {
        "app",
        "bin",
        "dev",
        "etc",
        "lib",
        "lib64",
        "opt",
        "proc",
        "run",
        "sbin",
        "tmp",
        "usr",
        "lib32",
        "libx32",
    }


@pytest.mark.parametrize("own_tmp", [False, True])
def test_tmp_starts_empty_and_is_writable(tmp_path: Path, own_tmp: bool) -> None:
    changes = {"tmp_dir": owned_dir(tmp_path / "tmp")} if own_tmp else {}
    script = "ls -A /tmp | wc -l; echo x > /tmp/scratch && echo wrote"
    assert run_sh(tmp_path, script, **changes) == (0, "0\nwrote", "")
    if not own_tmp:  # a fresh tmpfs each time
        assert run_sh(tmp_path, script)[1] == "0\nwrote"


def test_environment_is_exactly_the_given_one(tmp_path: Path) -> None:
    env = {**passthrough_env(os.environ), **ENV, "SPACED": "a b  c", "EMPTY": ""}
    code, out, _ = run_sh(tmp_path, "", command=("/usr/bin/env",), env=env)
    assert code == 0
    seen = dict(line.split("=", 1) for line in out.splitlines())
    # bwrap sets PWD to the working directory, as a shell would.
    assert seen == {**env, "PWD": "/app"}


def test_runtime_prefix_bound_read_only(tmp_path: Path) -> None:
    """Also: the directories bwrap makes for it are traversable by the uid."""
    prefix = tmp_path / "runtime"
    (prefix / "bin").mkdir(parents=True)
    tool = prefix / "bin" / "tool"
    tool.write_text("#!/bin/sh\necho from-runtime\n")
    tool.chmod(0o755)
    code, out, err = run_sh(
        tmp_path,
        "tool; touch /run/shipway/rt/x",
        binds=(Bind(prefix, "/run/shipway/rt"),),
        env={**ENV, "PATH": "/run/shipway/rt/bin:/usr/bin"},
    )
    assert out == "from-runtime"
    assert "Read-only file system" in err


def test_a_bind_cannot_create_its_mount_point_in_a_read_only_tree(tmp_path: Path) -> None:
    code, _, err = run_sh(tmp_path, "true", binds=(Bind(owned_dir(tmp_path / "x"), "/usr/x"),))
    assert code == 1
    assert "Can't mkdir /usr/x: Read-only file system" in err
