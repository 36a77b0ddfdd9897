"""One service instance of one environment on this host: prepare, start, check, stop.

Theory of operation. `prepare` is offline and idempotent: it makes the
directories, generates the credentials once (kept root-only in the data
directory, so a restart, or a clone of the data, reuses them) and, the first
time, initialises the server's files. The version that did it is recorded
last; a marker file written first tells an initialisation cut short (start
it over) from data whose record was lost (never touched). `start` runs the
server under its own small supervisor, detached (sandbox/processes.py): a
`kill -9` of the control plane leaves it running, a crash restarts it. The
server runs in a bwrap sandbox as the instance's unprivileged uid, its
service directory at /app (engines.py) and passwd/group files that name that
uid (initdb refuses to run for a uid it cannot name).

data_dir (persistent, cloned with its environment):
    service.json    root 0600: version, username, password, database
    initialising    present only while an initialisation runs
    service/        the uid's, 0700, /app in the sandbox: db/ (the server's files), run/
state_dir (not persistent): the supervisor's files, passwd, group.

`disk` (MB) is enforced by the environment's volume, which holds data_dir
(environments/data.py: one limit for all of an environment's apps and
services together).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.config.model import ServiceConfig
from shipway.errors import NotSupportedYet, PlatformError, RuntimeUnavailable
from shipway.runtimes import pgstore
from shipway.sandbox import beneath
from shipway.sandbox.processes import start_supervised, stop_supervised, supervised_pid
from shipway.sandbox.run import run_oneshot
from shipway.sandbox.spec import Bind, SandboxCommand, SandboxSpec, bwrap_command
from shipway.services.engines import ROOT, Check, Credentials, Engine, Step, engine_for
from shipway.services.kinds import Kind, kind_of
from shipway.services.relationships import Endpoint
from shipway.services.standard import service_address, standard_port
from shipway.services.versions import STORE_POSTGRESQL, choose_version, installed_versions, postgresql_bin

GRACE = 30.0  # databases flush on SIGTERM; KILL only after this
INIT_TIMEOUT = 300.0
SANDBOX_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": ROOT}
_ALPHABET = string.ascii_letters + string.digits  # safe in URLs, SQL quotes and shells


@dataclass(frozen=True)
class ServiceInstance:
    """One service of one environment. The caller chooses where its files
    live, the unprivileged uid that runs it and the port it listens on."""

    service: ServiceConfig
    data_dir: Path
    state_dir: Path
    log: Path
    uid: int
    port: int
    gid: int | None = None  # None: the same number as uid
    store: Path | None = None  # shipway's runtime store: provisioned PostgreSQL majors

    def __post_init__(self) -> None:
        if self.uid <= 0 or self.group <= 0:
            raise ValueError("a service never runs as root (uid and gid must be > 0)")

    @property
    def group(self) -> int:
        return self.uid if self.gid is None else self.gid

    @property
    def service_dir(self) -> Path:
        return self.data_dir / "service"

    @property
    def record_file(self) -> Path:
        return self.data_dir / "service.json"

    @property
    def kind(self) -> Kind:
        return kind_of(self.service.kind)

    @property
    def engine(self) -> Engine:
        return engine_for(self.kind.engine, self.kind.persistent)


@dataclass(frozen=True)
class Prepared:
    endpoint: Endpoint
    version: str  # the installed version that runs it
    warnings: tuple[str, ...] = ()


def prepare(inst: ServiceInstance, *, nearest: bool = False) -> Prepared:
    """Make the instance ready to start: directories, credentials, first
    initialisation. Raises if the host lacks the version asked for (with
    `nearest`, runs the closest one and says so in `warnings`)."""
    inst.engine.check(inst.service)
    installed, notes = available_versions(inst)
    try:
        choice = choose_version(inst.kind, inst.service.version, installed, nearest=nearest)
    except PlatformError as exc:
        raise PlatformError(" ".join([str(exc), *notes])) from exc
    _make_dirs(inst)
    record = _load_or_create_record(inst)
    made_by = record.get("version")
    if made_by is None:
        _initialise(inst, choice.version, _credentials(record))
    elif not inst.engine.compatible(made_by, choice.version):
        raise NotSupportedYet(
            f"service '{inst.service.name}' holds data made by {inst.kind.engine} {made_by}; "
            f"running it with {choice.version} needs an upgrade, which shipway does not do yet. "
            f"Keep type {inst.kind.name}:{made_by}, or use a new service name for an empty one"
        )
    _write_record(inst, {**record, "version": choice.version})
    warnings = (*notes, choice.warning) if choice.warning else ()
    return Prepared(endpoint(inst), choice.version, warnings)


def available_versions(inst: ServiceInstance) -> tuple[tuple[str, ...], list[str]]:
    """The versions that can run this instance, provisioning a missing
    PostgreSQL major from the npm registry first (C11); notes say why a
    provision failed."""
    installed = installed_versions(inst.kind.engine, inst.store)
    asked = inst.service.version.split(".")[0]
    if (inst.kind.engine != "postgresql" or inst.store is None or asked in installed
            or not pgstore.can_provision(asked)):
        return installed, []
    try:
        pgstore.provision(inst.store, asked, lambda _line: None)
    except RuntimeUnavailable as exc:
        return installed, [f"Provisioning PostgreSQL {asked} failed: {exc}"]
    return installed_versions(inst.kind.engine, inst.store), []


def endpoint(inst: ServiceInstance) -> Endpoint:
    """Connection facts of a prepared instance (for relationships.py)."""
    creds = _credentials(_read_record(inst))
    std = standard_port(inst.kind.engine)
    if std is None:
        return Endpoint(port=inst.port, username=creds.username, password=creds.password,
                        path=creds.database)
    # Apps dial the standard port at the service's own address (standard.py, C6a).
    return Endpoint(port=std, username=creds.username, password=creds.password,
                    path=creds.database, ip=service_address(inst.port))


def start(inst: ServiceInstance) -> bool:
    """Run the prepared instance, detached and supervised. A running one is
    left alone unless its command changed (a new port): then restarted.
    True if a server was (re)started."""
    command = _run_command(inst)
    if running(inst):
        if _supervised(inst) == (list(command.argv), dict(command.env)):
            return False
        stop(inst)
    if not port_free(inst.port):
        raise PlatformError(f"service '{inst.service.name}' cannot listen on 127.0.0.1:"
                            f"{inst.port}: another process uses that port")
    start_supervised(inst.state_dir, list(command.argv), env=command.env, log=inst.log, grace=GRACE)
    return True


def stop(inst: ServiceInstance, timeout: float | None = None) -> None:
    """SIGTERM (the servers shut down cleanly on it), SIGKILL after the grace period."""
    stop_supervised(inst.state_dir, timeout)


def running(inst: ServiceInstance) -> bool:
    return supervised_pid(inst.state_dir) is not None


def wait_ready(inst: ServiceInstance, timeout: float = 60.0) -> float:
    """Wait until the server accepts connections (a real client connects);
    the seconds it took."""
    record = _read_record(inst)
    check = inst.engine.ready_check(record["version"], inst.port, _credentials(record))
    started = time.monotonic()
    while not _passes(check):
        alive = running(inst)
        if not alive or time.monotonic() - started > timeout:
            state = f"is not ready after {timeout:g} s" if alive else "is not running"
            raise PlatformError(f"service '{inst.service.name}' {state}; its log ({inst.log}) "
                                f"ends with:\n{_tail(inst.log)}")
        time.sleep(0.05)
    return time.monotonic() - started


def port_free(port: int) -> bool:
    """Nothing listens on (or holds) 127.0.0.1:`port`. SO_REUSEADDR, as the
    servers set it: a port still in TIME_WAIT after a restart counts as free."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(first: int, last: int, taken: set[int] | frozenset[int] = frozenset()) -> int:
    """The first port in [first, last] not in `taken` and free right now."""
    for port in range(first, last + 1):
        if port not in taken and port_free(port):
            return port
    raise PlatformError(f"no free TCP port left in {first}-{last}")


# -- preparing ---------------------------------------------------------------------


def _make_dirs(inst: ServiceInstance) -> None:
    inst.data_dir.mkdir(parents=True, exist_ok=True)
    inst.data_dir.chmod(0o700)
    inst.state_dir.mkdir(parents=True, exist_ok=True)
    inst.log.parent.mkdir(parents=True, exist_ok=True)
    # Read by the sandbox's setup as root, then by the server as its uid.
    names = {"passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                       f"service:x:{inst.uid}:{inst.group}:shipway service:{ROOT}:/usr/sbin/nologin\n",
             "group": f"root:x:0:\nservice:x:{inst.group}:\n"}
    for name, text in names.items():
        path = inst.state_dir / name
        if not path.exists() or path.read_text() != text:  # a running server reads it
            path.write_text(text)
        path.chmod(0o644)
    if inst.service_dir.exists() and inst.service_dir.stat().st_uid != inst.uid:
        beneath.chown_tree(inst.service_dir, inst.uid, inst.group)  # the caller changed its uid


def _load_or_create_record(inst: ServiceInstance) -> dict[str, Any]:
    if inst.record_file.exists():
        return _read_record(inst)
    kind = inst.kind
    record = {
        "engine": kind.engine,
        "username": kind.username,
        # Only where Platform.sh has one: its Redis has none (D4).
        "password": _password() if kind.username else None,
        "database": kind.database,
    }
    _write_record(inst, record)
    return record


def _initialise(inst: ServiceInstance, version: str, creds: Credentials) -> None:
    marker = inst.data_dir / "initialising"
    if inst.service_dir.exists() and any(inst.service_dir.iterdir()) and not marker.exists():
        raise PlatformError(f"service '{inst.service.name}': {inst.service_dir} holds data but "
                            f"{inst.record_file} has no record of it; not touching it")
    marker.touch()
    shutil.rmtree(inst.service_dir, ignore_errors=True)  # what a cut-short attempt left
    for path in (inst.service_dir, inst.service_dir / "db", inst.service_dir / "run"):
        path.mkdir(mode=0o700)
        os.chown(path, inst.uid, inst.group)
    for step in inst.engine.init_steps(version, creds):
        _run_step(inst, step, version)
    marker.unlink()


def _run_step(inst: ServiceInstance, step: Step, version: str) -> None:
    files = [inst.service_dir / name for name in step.files]
    for path, text in zip(files, step.files.values(), strict=True):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w") as out:
            out.write(text)
        os.chown(path, inst.uid, inst.group)
    lines: list[str] = []
    try:
        status = run_oneshot(_sandbox(inst, step.argv, version), on_line=lambda line, _: lines.append(line),
                             timeout=INIT_TIMEOUT)
    finally:
        for path in files:
            path.unlink(missing_ok=True)
    with inst.log.open("a") as log:
        log.write("".join(f"[init] {line}\n" for line in lines))
    failed = step.fails_on is not None and any(step.fails_on in line for line in lines)
    if status != 0 or failed:
        tail = "\n".join(lines[-15:])
        raise PlatformError(f"service '{inst.service.name}': initialising with {step.argv[0]} "
                            f"failed (status {status}):\n{tail}")


# -- running -----------------------------------------------------------------------


def _run_command(inst: ServiceInstance) -> SandboxCommand:
    record = _read_record(inst)
    if record.get("version") is None:
        raise PlatformError(f"service '{inst.service.name}' is not prepared; call prepare() first")
    command = inst.engine.run_argv(record["version"], inst.port, inst.service)
    return bwrap_command(_sandbox(inst, command, record["version"]))


def _sandbox(inst: ServiceInstance, command: tuple[str, ...], version: str) -> SandboxSpec:
    return SandboxSpec(
        command=command, app_dir=inst.service_dir, app_writable=True, uid=inst.uid,
        gid=inst.group, env=SANDBOX_ENV,
        binds=(Bind(inst.state_dir / "passwd", "/etc/passwd"),
               Bind(inst.state_dir / "group", "/etc/group"), *_server_binds(inst, version)),
    )


def _server_binds(inst: ServiceInstance, version: str) -> tuple[Bind, ...]:
    """A provisioned PostgreSQL major, read-only where postgresql_bin says."""
    if inst.kind.engine != "postgresql" or inst.store is None:
        return ()
    if not postgresql_bin(str(version)).startswith(STORE_POSTGRESQL):
        return ()
    return (Bind(inst.store / f"postgresql-{version}", f"{STORE_POSTGRESQL}/{version}",
                 writable=False),)


def _supervised(inst: ServiceInstance) -> tuple[list[str], dict[str, str] | None] | None:
    """The argv and environment the running supervisor was given."""
    try:
        spec = json.loads((inst.state_dir / "spec.json").read_text())
        return spec["argv"], spec.get("env")
    except (OSError, ValueError, KeyError):
        return None


def _passes(check: Check) -> bool:
    try:
        result = subprocess.run(list(check.argv), env={"PATH": "/usr/bin:/bin", **check.env},
                                capture_output=True, text=True, timeout=5, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and (check.expect is None or check.expect in result.stdout)


# -- records -----------------------------------------------------------------------


def _read_record(inst: ServiceInstance) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads(inst.record_file.read_text())
    except FileNotFoundError:
        raise PlatformError(f"service '{inst.service.name}' is not prepared "
                            f"({inst.record_file} is missing)") from None
    return record


def _write_record(inst: ServiceInstance, record: dict[str, Any]) -> None:
    tmp = inst.record_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w") as out:
        json.dump(record, out, indent=1)
    tmp.replace(inst.record_file)


def _credentials(record: dict[str, Any]) -> Credentials:
    return Credentials(record.get("username"), record.get("password"), record.get("database"))


def _password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(24))


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
