"""What a sandboxed command gets (pure): a `SandboxSpec` and its bwrap argv.

Theory of operation. bwrap runs as root so it can mount; the command itself
runs as an unprivileged uid, dropped INSIDE the sandbox by `setpriv` with no
capabilities and no_new_privs (bwrap's own --uid keeps root's powers, and a
setuid binary would hand euid 0 back). The sandbox sees the host's system
trees read-only (see layout.py), the app at /app, its own /tmp, and the
host's network unless `unshare_net`; the host's loopback is closed to build
uids by firewall.py, not here.

No `--new-session`: the command must stay in the process group its runner
created, so that stopping the group reaches every process it started.

The environment is never on the argv (S3), nor in any root-run process
(envfd.py): bwrap starts setpriv with a fixed PATH only, and the command's
variables are a read-only file in the sandbox (`--ro-bind-data` from a
memfd) that a shell loads after setpriv has dropped to the app's uid.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from shipway.encoding import is_env_name

# Not bwrap options: bindexec.py turns each into `--bind-fd FD DEST`.
from shipway.sandbox.bindexec import BIND_BENEATH, RO_BIND_BENEATH
from shipway.sandbox.bindexec import MODULE as BINDEXEC
from shipway.sandbox.envfd import BOOT_PATH, ENV_FD, ENV_FILE, LOADER
from shipway.sandbox.layout import HostLayout, probe_host_layout

APP = "/app"

# The host's proxy, CA and package-manager settings: without them a build's
# pip/npm fails wherever registries sit behind a proxy or TLS interception.
PASSTHROUGH_NAMES = frozenset(
    {
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "ftp_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "FTP_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "GIT_SSL_CAINFO",
        "NODE_EXTRA_CA_CERTS",
        "PIP_CERT",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_TRUSTED_HOST",
        "PIP_FIND_LINKS",
        "PIP_DEFAULT_TIMEOUT",
        # Go's module proxy and checksum settings, as the host gives them.
        "GOPROXY",
        "GONOPROXY",
        "GOPRIVATE",
        "GONOSUMDB",
        "GOSUMDB",
        "GOINSECURE",
        "GOFLAGS",
    }
)
PASSTHROUGH_PREFIXES = ("NPM_CONFIG_",)


@dataclass(frozen=True)
class Bind:
    """A host path seen at `dest` inside the sandbox. bwrap makes a missing
    `dest` (and its parents) only where the sandbox is writable at setup:
    outside the system trees and a read-only /app, e.g. under /run. Under a
    read-only tree the mount point must already exist, or bwrap fails with
    "Can't mkdir". A `dest` under /tmp lands in the sandbox's /tmp."""

    host: Path
    dest: str
    writable: bool = False
    # Set when `host` lies in a tree the sandbox can write (a mount): `host`
    # is then opened beneath this root-owned base without following any
    # symlink, right before bwrap runs, and bound by its fd (bindexec.py, S1).
    beneath: Path | None = None

    def __post_init__(self) -> None:
        _check_sandbox_path(self.dest, "bind destination")
        if self.dest in ("/", APP):
            raise ValueError(f"cannot bind over {self.dest}")
        if self.beneath is not None and not self.host.is_relative_to(self.beneath):
            raise ValueError(f"bind source {self.host} is not under {self.beneath}")

    @property
    def args(self) -> list[str]:
        if self.beneath is None:
            return ["--bind" if self.writable else "--ro-bind", str(self.host), self.dest]
        flag = BIND_BENEATH if self.writable else RO_BIND_BENEATH
        return [flag, str(self.beneath), str(self.host.relative_to(self.beneath)), self.dest]


@dataclass(frozen=True)
class SandboxSpec:
    """One command in a sandbox. `tmp_dir` None gives a fresh tmpfs at /tmp;
    a host `tmp_dir` must be writable by `uid` (owned by it, or mode 1777)."""

    command: tuple[str, ...]
    app_dir: Path
    app_writable: bool
    uid: int
    gid: int
    env: Mapping[str, str] = field(hash=False)
    tmp_dir: Path | None = None
    binds: tuple[Bind, ...] = ()
    cwd: str = APP
    unshare_net: bool = False

    def __post_init__(self) -> None:
        if not self.command:
            raise ValueError("empty command")
        if self.uid <= 0 or self.gid <= 0:
            raise ValueError("a sandbox never runs as root (uid and gid must be > 0)")
        _check_sandbox_path(self.cwd, "cwd")
        for key, value in self.env.items():
            if not is_env_name(key) or "\0" in value:
                raise ValueError(f"bad environment variable {key!r}")
        object.__setattr__(self, "command", tuple(self.command))
        object.__setattr__(self, "binds", tuple(self.binds))
        _check_binds_outside_writable(self)
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))


@dataclass(frozen=True)
class SandboxCommand:
    """What to start for a sandbox: `argv` (bwrap … -- setpriv … -- command),
    holding no environment value, and `env`, the sandboxed command's whole
    environment. Spawn it through `envfd.passed`, which hands `env` to the
    sandbox as a file on a memfd: neither the argv nor any root-run process
    ever carries it (S3)."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(hash=False)


def bwrap_command(spec: SandboxSpec, host_layout: HostLayout | None = None) -> SandboxCommand:
    """The command for `spec`. Without `host_layout` the running host is probed (cached)."""
    layout = host_layout or probe_host_layout()
    launcher = [sys.executable, "-m", BINDEXEC, "--"] if any(b.beneath for b in spec.binds) else []
    argv = (
        *launcher,
        layout.bwrap,
        "--clearenv", "--setenv", "PATH", BOOT_PATH,
        *_namespaces(spec),
        *_system(layout),
        *_filesystem(spec, layout),
        "--",
        *_drop_privileges(spec, layout),
        *LOADER,
        *spec.command,
    )
    return SandboxCommand(argv, spec.env)


def passthrough_env(environ: Mapping[str, str], extra_names: Iterable[str] = ()) -> dict[str, str]:
    """The host's proxy/CA/pip/npm settings in `environ`, to carry into builds.
    `extra_names` adds names; one ending in `*` is a prefix."""
    extra = list(extra_names)
    names = PASSTHROUGH_NAMES | {n for n in extra if not n.endswith("*")}
    prefixes = (*PASSTHROUGH_PREFIXES, *(n[:-1] for n in extra if n.endswith("*")))
    return {
        key: value
        for key, value in environ.items()
        if key in names or any(key.upper().startswith(p.upper()) for p in prefixes)
    }


def _namespaces(spec: SandboxSpec) -> list[str]:
    # die-with-parent: if the runner dies, nothing it started survives it.
    args = ["--unshare-pid", "--unshare-ipc", "--die-with-parent"]
    return args + ["--unshare-net"] if spec.unshare_net else args


def _system(layout: HostLayout) -> list[str]:
    args: list[str] = []
    for path in layout.ro_dirs:
        args += ["--ro-bind", path, path]
    for path, target in layout.symlinks:
        args += ["--symlink", target, path]
    return args + ["--dev", "/dev", "--proc", "/proc"]


def _filesystem(spec: SandboxSpec, layout: HostLayout) -> list[str]:
    args = ["--bind" if spec.app_writable else "--ro-bind", str(spec.app_dir), APP]
    if spec.tmp_dir is None:
        args += ["--perms", "1777", "--tmpfs", "/tmp"]
    else:
        args += ["--bind", str(spec.tmp_dir), "/tmp"]
    mounted = {APP, "/tmp", "/dev", "/proc", *layout.ro_dirs, *(s for s, _ in layout.symlinks)}
    made: set[str] = set()
    host_files = [Bind(Path(path), path) for path in layout.ro_files]
    # Parents before children, whatever order the caller listed them in.
    for bind in [*host_files, *sorted(spec.binds, key=lambda b: PurePosixPath(b.dest).parts)]:
        for parent in _new_parents(bind.dest, mounted, made):
            args += ["--perms", "0755", "--dir", parent]
            made.add(parent)
        args += bind.args
        mounted.add(bind.dest)
    for parent in _new_parents(ENV_FILE, mounted, made):
        args += ["--perms", "0755", "--dir", parent]
    args += ["--perms", "0444", "--ro-bind-data", ENV_FD, ENV_FILE]
    return args + ["--chdir", spec.cwd]


def _new_parents(dest: str, mounted: set[str], made: set[str]) -> list[str]:
    """Ancestors of `dest` that bwrap would create on its root tmpfs. Made
    explicitly because bwrap 0.8 makes them mode 0700 (owned by root), which
    the sandbox's uid could not traverse. Inside a mounted tree they are the
    host's own directories: left alone."""
    parents = [str(p) for p in reversed(PurePosixPath(dest).parents)][1:]
    if any(p in mounted for p in parents):
        return []
    return [p for p in parents if p not in made]


def _drop_privileges(spec: SandboxSpec, layout: HostLayout) -> list[str]:
    return [
        layout.setpriv,
        "--reuid",
        str(spec.uid),
        "--regid",
        str(spec.gid),
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def _check_binds_outside_writable(spec: SandboxSpec) -> None:
    """No bind destination inside a tree the sandbox writes (S1): root's bwrap
    resolves a destination inside the sandbox, following every symlink but
    the last, so one the app planted there (`data/sub` -> `../../usr`) would
    put the bind over the sandbox's /usr/bin, whose setpriv root then runs."""
    trees = [PurePosixPath(b.dest) for b in spec.binds if b.writable]
    trees += [PurePosixPath(APP)] if spec.app_writable else []
    trees += [PurePosixPath("/tmp")] if spec.tmp_dir is not None else []
    for bind in spec.binds:
        dest = PurePosixPath(bind.dest)
        for tree in trees:
            if dest != tree and dest.is_relative_to(tree):
                raise ValueError(f"cannot bind {bind.dest} inside {tree}, which the sandbox "
                                 "can write (its symlinks would redirect the bind)")


def _check_sandbox_path(path: str, what: str) -> None:
    pure = PurePosixPath(path)
    if not pure.is_absolute() or ".." in pure.parts or str(pure) != path:
        raise ValueError(f"{what} must be a normalised absolute path: {path!r}")
