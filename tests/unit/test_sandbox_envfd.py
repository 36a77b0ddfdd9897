"""S3: a sandbox's environment is a file on a memfd, loaded after the uid drop (sandbox/envfd.py)."""

from __future__ import annotations

import os
import subprocess

import pytest

from shipway.sandbox.envfd import ENV_FD, env_script, passed


@pytest.mark.parametrize(("env", "expected"), [
    ({}, b""),
    ({"A": "1"}, b"A='1'\n"),
    ({"B": "it's\nx", "A": ""}, b"A=''\nB='it'\\''s\nx'\n"),
])
def test_env_script_quotes_every_value_for_dash(env: dict[str, str], expected: bytes) -> None:
    assert env_script(env) == expected


@pytest.mark.parametrize("name", ["", "A-B", "1A", "A=B", "A B", "a.b", "$(id)"])
def test_a_name_dash_cannot_assign_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="bad environment variable"):
        env_script({name: "x"})


HOSTILE = {"Q": "'; touch /tmp/pwned; '", "D": "$(id) `id` ${HOME}", "N": "a\nb\n\n", "U": "é ✓",
           "E": "", "BS": "\\'\\"}


def test_dash_loads_exactly_the_values_written(tmp_path) -> None:
    script = tmp_path / "env"
    script.write_bytes(env_script(HOSTILE))
    printer = 'import os, json; print(json.dumps({k: os.environ[k] for k in ' + repr(sorted(HOSTILE)) + '}))'
    out = subprocess.run(["/bin/sh", "-c", f'set -a; . {script}; set +a; exec "$@"', "x",
                          "python3", "-c", printer], capture_output=True, text=True, check=True,
                         env={"PATH": os.environ["PATH"]})
    import json
    assert json.loads(out.stdout) == HOSTILE


def test_an_argv_without_the_placeholder_is_spawned_as_given() -> None:
    with passed(["true"], {"A": "1"}) as (argv, env, fds):
        assert (argv, env, fds) == (["true"], {"A": "1"}, ())


def test_the_placeholder_becomes_a_memfd_holding_the_environment() -> None:
    secret = {"TOKEN": "s3cr3t", "LD_PRELOAD": "/app/evil.so"}
    with passed(["bwrap", "--ro-bind-data", ENV_FD, "/run/shipway/env"], secret) as (argv, env, fds):
        assert env is None  # the root-run processes keep the control plane's environment
        assert "s3cr3t" not in " ".join(argv) and argv[2] == str(fds[0])
        assert os.readlink(f"/proc/self/fd/{fds[0]}").startswith("/memfd:shipway-sandbox-env")
        assert os.pread(fds[0], 4096, 0) == env_script(secret)
        kept = fds[0]
    with pytest.raises(OSError):
        os.fstat(kept)  # closed once spawned
