"""S3: a sandbox's environment travels to bwrap on a memfd (sandbox/envfd.py)."""

from __future__ import annotations

import os

import pytest

from shipway.sandbox.envfd import ENV_FD, env_args, passed


@pytest.mark.parametrize(("env", "expected"), [
    ({}, b"--clearenv\0"),
    ({"A": "1"}, b"--clearenv\0--setenv\0A\0001\0"),
    ({"B": "x y\nz", "A": ""}, b"--clearenv\0--setenv\0A\0\0--setenv\0B\0x y\nz\0"),
])
def test_env_args_is_bwraps_nul_separated_format(env: dict[str, str], expected: bytes) -> None:
    assert env_args(env) == expected


def test_an_argv_without_the_placeholder_is_spawned_as_given() -> None:
    with passed(["true"], {"A": "1"}) as (argv, env, fds):
        assert (argv, env, fds) == (["true"], {"A": "1"}, ())


def test_the_placeholder_becomes_a_memfd_holding_the_environment() -> None:
    secret = {"TOKEN": "s3cr3t", "LD_PRELOAD": "/app/evil.so"}
    with passed(["bwrap", "--args", ENV_FD, "--", "sh"], secret) as (argv, env, fds):
        assert env is None  # the root-run processes keep the control plane's environment
        assert "s3cr3t" not in " ".join(argv) and argv[2] == str(fds[0])
        assert os.readlink(f"/proc/self/fd/{fds[0]}").startswith("/memfd:shipway-sandbox-env")
        assert os.pread(fds[0], 4096, 0) == env_args(secret)
        kept = fds[0]
    with pytest.raises(OSError):
        os.fstat(kept)  # closed once spawned
