"""Pure parts of the sandbox: bwrap argv, passthrough env, host layout,
firewall script, restart back-off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipway.sandbox.envfd import ENV_FD
from shipway.sandbox.firewall import isolation_script
from shipway.sandbox.layout import HostLayout, read_layout
from shipway.sandbox.spec import Bind, SandboxSpec, bwrap_command, passthrough_env
from shipway.sandbox.supervisor import Backoff

LAYOUT = HostLayout(
    ro_dirs=("/usr", "/etc", "/opt"),
    symlinks=(("/bin", "usr/bin"), ("/lib", "usr/lib")),
    setpriv="/usr/bin/setpriv",
    bwrap="bwrap",
)


def spec(**changes: object) -> SandboxSpec:
    base: dict[str, object] = dict(
        command=("/bin/sh", "-c", "echo hi"),
        app_dir=Path("/srv/app"),
        app_writable=True,
        uid=61001,
        gid=61002,
        env={"HOME": "/app"},
    )
    return SandboxSpec(**{**base, **changes})  # type: ignore[arg-type]


def test_full_argv_of_a_plain_build_step() -> None:
    # fmt: off
    assert list(bwrap_command(spec(), LAYOUT).argv) == [
        "bwrap", "--clearenv", "--setenv", "PATH", "/usr/sbin:/usr/bin:/sbin:/bin",
        "--unshare-pid", "--unshare-ipc", "--die-with-parent",
        "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--ro-bind", "/opt", "/opt",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
        "--dev", "/dev", "--proc", "/proc",
        "--bind", "/srv/app", "/app", "--perms", "1777", "--tmpfs", "/tmp",
        "--perms", "0755", "--dir", "/run", "--perms", "0755", "--dir", "/run/shipway",
        "--perms", "0444", "--ro-bind-data", ENV_FD, "/run/shipway/env", "--chdir", "/app",
        "--", "/usr/bin/setpriv", "--reuid", "61001", "--regid", "61002", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
        "/bin/sh", "-c", 'set -a; . /run/shipway/env; set +a; exec "$@"', "shipway-env",
        "/bin/sh", "-c", "echo hi",
    ]
    # fmt: on


def contains(argv: list[str], part: list[str]) -> bool:
    return any(argv[i : i + len(part)] == part for i in range(len(argv)))


@pytest.mark.parametrize(
    ("changes", "present", "absent"),
    [
        (
            {"app_writable": False},
            ["--ro-bind", "/srv/app", "/app"],
            ["--bind", "/srv/app", "/app"],
        ),
        ({"tmp_dir": Path("/w/tmp")}, ["--bind", "/w/tmp", "/tmp"], ["--tmpfs", "/tmp"]),
        ({"unshare_net": True}, ["--die-with-parent", "--unshare-net"], []),
        ({"cwd": "/app/web"}, ["--chdir", "/app/web"], ["--chdir", "/app"]),
        ({"binds": (Bind(Path("/c"), "/cache", writable=True),)}, ["--bind", "/c", "/cache"], []),
        ({"binds": (Bind(Path("/rt"), "/opt/rt"),)}, ["--ro-bind", "/rt", "/opt/rt"], []),
        (
            {"command": ("/bin/sh", "-c", "a; b && c > $HOME/x")},
            ["shipway-env", "/bin/sh", "-c", "a; b && c > $HOME/x"],
            [],
        ),
    ],
)
def test_argv_cases(changes: dict[str, object], present: list[str], absent: list[str]) -> None:
    argv = argv_of(spec(**changes), LAYOUT)
    assert contains(argv, present)
    assert not absent or not contains(argv, absent)


def test_binds_mount_parents_first_and_after_app() -> None:
    binds = (Bind(Path("/h/b"), "/app/a/b", True), Bind(Path("/h/a"), "/app/a"))
    argv = argv_of(spec(app_writable=False, binds=binds), LAYOUT)
    order = [argv.index(str(p)) for p in ("/srv/app", "/h/a", "/h/b")]
    assert order == sorted(order)


def test_layout_ro_files_are_bound_with_traversable_parents() -> None:
    layout = HostLayout(("/usr", "/etc"), ro_files=("/run/systemd/resolve/stub-resolv.conf",))
    argv = argv_of(spec(), layout)
    path = "/run/systemd/resolve/stub-resolv.conf"
    assert contains(
        argv,
        [
            "--perms",
            "0755",
            "--dir",
            "/run",
            "--perms",
            "0755",
            "--dir",
            "/run/systemd",
            "--perms",
            "0755",
            "--dir",
            "/run/systemd/resolve",
            "--ro-bind",
            path,
            path,
        ],
    )


def dirs_made(argv: list[str]) -> list[str]:
    """The directories made for binds: before the environment file's own (envfd.py)."""
    end = argv.index("--ro-bind-data") - 2
    while argv[end - 4 : end - 1] == ["--perms", "0755", "--dir"]:
        end -= 4
    return [argv[i + 1] for i, arg in enumerate(argv[:end]) if arg == "--dir"]


def test_the_environment_file_gets_traversable_parents_once() -> None:
    binds = (Bind(Path("/h/s"), "/run/shipway/sock"),)
    argv = argv_of(spec(binds=binds), LAYOUT)
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "--dir"] == ["/run", "/run/shipway"]
    assert contains(argv, ["--perms", "0444", "--ro-bind-data", ENV_FD, "/run/shipway/env"])


@pytest.mark.parametrize(
    ("dests", "expected"),
    [
        (["/cache"], []),
        (["/app/data", "/tmp/x", "/usr/lib/x", "/bin/x"], []),
        (["/run/shipway/runtime/bin"], ["/run", "/run/shipway", "/run/shipway/runtime"]),
        (
            ["/root/.pyenv/versions/3.11.7", "/run/a"],
            ["/root", "/root/.pyenv", "/root/.pyenv/versions", "/run"],
        ),
        (["/run/a/b", "/run/a/c"], ["/run", "/run/a"]),
        # inside an earlier bind: the host's directory, not ours to make
        (["/srv/x/y/z", "/srv/x"], ["/srv"]),
    ],
)
def test_bind_parents_are_made_traversable(dests: list[str], expected: list[str]) -> None:
    binds = tuple(Bind(Path("/h") / str(i), d) for i, d in enumerate(dests))
    assert dirs_made(argv_of(spec(app_writable=False, binds=binds), LAYOUT)) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"command": ()},
        {"uid": 0},
        {"gid": 0},
        {"cwd": "app"},
        {"cwd": "/app/../etc"},
        {"env": {"A=B": "x"}},
        {"env": {"": "x"}},
        {"env": {"A": "x\0y"}},
    ],
)
def test_invalid_specs_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        spec(**changes)


@pytest.mark.parametrize("dest", ["relative", "/", "/app", "/app/../etc", "/app/x/"])
def test_invalid_bind_destinations(dest: str) -> None:
    with pytest.raises(ValueError):
        Bind(Path("/x"), dest)


def test_spec_env_is_a_frozen_copy() -> None:
    env = {"A": "1"}
    made = spec(env=env)
    env["A"] = "2"
    assert made.env["A"] == "1"
    with pytest.raises(TypeError):
        made.env["A"] = "3"  # type: ignore[index]


HOST_ENV = {
    "PATH": "/usr/bin",
    "HOME": "/root",
    "SECRET_TOKEN": "s",
    "http_proxy": "http://p:3128",
    "HTTPS_PROXY": "http://p:3128",
    "no_proxy": "localhost",
    "SSL_CERT_FILE": "/etc/ssl/ca.pem",
    "SSL_CERT_DIR": "/etc/ssl/certs",
    "REQUESTS_CA_BUNDLE": "/ca",
    "CURL_CA_BUNDLE": "/ca",
    "NODE_EXTRA_CA_CERTS": "/ca",
    "PIP_CERT": "/ca",
    "PIP_INDEX_URL": "https://m/simple",
    "PIP_FIND_LINKS": "/opt/wheels",
    "PIP_DEFAULT_TIMEOUT": "180",
    "PIP_NO_CACHE_DIR": "1",
    "NPM_CONFIG_REGISTRY": "https://r",
    "npm_config_cafile": "/ca",
    "CORP_CA": "/corp.pem",
    "CORP_MIRROR_URL": "https://corp",
    "CORPORATE": "x",
}


@pytest.mark.parametrize(
    ("extra", "expected_extra"),
    [
        ((), set()),
        (("CORP_CA",), {"CORP_CA"}),
        (("CORP_*",), {"CORP_CA", "CORP_MIRROR_URL"}),
        (("NOT_SET",), set()),
    ],
)
def test_passthrough_env(extra: tuple[str, ...], expected_extra: set[str]) -> None:
    base = {
        "http_proxy",
        "HTTPS_PROXY",
        "no_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "PIP_CERT",
        "PIP_INDEX_URL",
        "PIP_FIND_LINKS",
        "PIP_DEFAULT_TIMEOUT",
        "NPM_CONFIG_REGISTRY",
        "npm_config_cafile",
    }
    got = passthrough_env(HOST_ENV, extra)
    assert set(got) == base | expected_extra
    assert all(got[k] == HOST_ENV[k] for k in got)


def make_root(tmp_path: Path, dirs: list[str], links: dict[str, str]) -> Path:
    for name in dirs:
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    for name, target in links.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, tmp_path / name)
    return tmp_path


@pytest.mark.parametrize(
    ("dirs", "links", "expected"),
    [
        # Debian 12, merged /usr
        (
            ["usr/bin", "etc", "opt", "var", "root"],
            {"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64"},
            HostLayout(
                ("/usr", "/etc", "/opt"),
                (("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64")),
            ),
        ),
        # an older split layout, no /opt
        (
            ["usr", "etc", "bin", "sbin", "lib", "lib64", "home"],
            {},
            HostLayout(("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64")),
        ),
        # systemd-resolved: /etc/resolv.conf points into /run, which is hidden
        (
            ["usr", "etc", "run/systemd/resolve"],
            {"etc/resolv.conf": "../run/systemd/resolve/stub-resolv.conf"},
            HostLayout(("/usr", "/etc"), ro_files=("/run/systemd/resolve/stub-resolv.conf",)),
        ),
        # a resolv.conf symlink that stays inside a bound tree needs nothing more
        (
            ["usr", "etc/resolvconf"],
            {"etc/resolv.conf": "resolvconf/resolv.conf"},
            HostLayout(("/usr", "/etc")),
        ),
    ],
)
def test_read_layout(
    tmp_path: Path, dirs: list[str], links: dict[str, str], expected: HostLayout
) -> None:
    root = make_root(tmp_path, dirs, links)
    for name in ("run/systemd/resolve/stub-resolv.conf", "etc/resolvconf/resolv.conf"):
        if (root / name).parent.is_dir():
            (root / name).write_text("nameserver 127.0.0.53\n")
    assert read_layout(root) == expected


RESET = "meta l4proto tcp reject with tcp reset"


@pytest.mark.parametrize(
    ("uids", "dns", "expected_rules"),
    [
        (
            (61000, 61999),
            False,
            [
                f"add rule inet t sandbox_out meta skuid 61000-61999 fib daddr type local {RESET}",
                "add rule inet t sandbox_out meta skuid 61000-61999 fib daddr type local reject",
            ],
        ),
        (
            (61000, 61000),
            False,
            [
                f"add rule inet t sandbox_out meta skuid 61000 fib daddr type local {RESET}",
                "add rule inet t sandbox_out meta skuid 61000 fib daddr type local reject",
            ],
        ),
        (
            (61000, 61999),
            True,
            [
                "add rule inet t sandbox_out meta skuid 61000-61999 fib daddr type local "
                "meta l4proto { tcp, udp } th dport 53 accept",
                f"add rule inet t sandbox_out meta skuid 61000-61999 fib daddr type local {RESET}",
                "add rule inet t sandbox_out meta skuid 61000-61999 fib daddr type local reject",
            ],
        ),
    ],
)
def test_isolation_script(uids: tuple[int, int], dns: bool, expected_rules: list[str]) -> None:
    lines = isolation_script("t", uids, allow_dns=dns).splitlines()
    assert lines == [
        "add table inet t",
        "add chain inet t sandbox_out { type filter hook output priority 0; policy accept; }",
        "flush chain inet t sandbox_out",
        *expected_rules,
    ]


@pytest.mark.parametrize(
    ("table", "uids"),
    [
        ("bad name", (61000, 61001)),
        ("t;flush ruleset", (61000, 61001)),
        ("", (61000, 61001)),
        ("t", (0, 10)),
        ("t", (62000, 61000)),
    ],
)
def test_isolation_script_refuses_bad_input(table: str, uids: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        isolation_script(table, uids)


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        # (seconds each run lasted) -> delays chosen after each exit
        ([0.1], [1]),
        ([0.1] * 7, [1, 2, 4, 8, 16, 30, 30]),
        ([0.1, 0.1, 0.1, 31, 0.1], [1, 2, 4, 1, 2]),
        ([29.9, 29.9], [1, 2]),
    ],
)
def test_backoff(runs: list[float], expected: list[float]) -> None:
    backoff, delay, delays = Backoff(), None, []
    for ran_for in runs:
        delay = backoff.next(delay, ran_for)
        delays.append(delay)
    assert delays == expected


def argv_of(sandbox: SandboxSpec, layout: HostLayout) -> list[str]:
    return list(bwrap_command(sandbox, layout).argv)


SECRETS = {"API_TOKEN": "s3cr3t-token", "PLATFORM_RELATIONSHIPS": "eyJkYiI6IFt7InBhc3N3b3JkIjogInB3In1dfQ==",
           "EMPTY": "", "SPACED": "a b c", "PATH": "/usr/bin:/bin"}


@pytest.mark.parametrize("changes", [{}, {"tmp_dir": Path("/w/tmp")}, {"unshare_net": True},
                                     {"binds": (Bind(Path("/c"), "/cache", writable=True),)}])
def test_s3_no_environment_value_on_the_argv(changes: dict[str, object]) -> None:
    command = bwrap_command(spec(env=SECRETS, **changes), LAYOUT)
    assert dict(command.env) == SECRETS  # the sandbox's whole environment, on bwrap's --args fd
    for value in filter(None, SECRETS.values()):
        assert not any(value in arg for arg in command.argv), value
    assert not any(value in arg for arg in command.argv for value in ("s3cr3t", "a b c"))


def test_s1_a_bind_beneath_a_base_goes_through_the_launcher() -> None:
    import sys

    base = Path("/vol/apps/app/mounts")
    binds = (Bind(base / "data/inner", "/app/inner", True, beneath=base),
             Bind(Path("/run/sock"), "/run/shipway/sock", True))
    argv = argv_of(spec(app_writable=False, binds=binds), LAYOUT)
    assert argv[:5] == [sys.executable, "-m", "shipway.sandbox.bindexec", "--", "bwrap"]
    at = argv.index("--shipway-bind-beneath")
    assert argv[at:at + 4] == ["--shipway-bind-beneath", str(base), "data/inner", "/app/inner"]
    assert "--bind" in argv and str(base / "data/inner") not in argv
    plain = argv_of(spec(binds=binds[1:]), LAYOUT)
    assert plain[0] == "bwrap"  # nothing to pin: no launcher
