"""Git and shells over SSH (A2): shipway's own sshd, its user, keys and forced command.

Theory of operation. People push to `ssh://shipway@HOST:PORT/PROJECT.git`.
OpenSSH authenticates the key; every key shipway writes carries a forced
command (`command="python3 -I …/gate.py --socket S --key FP",restrict,pty`),
so whatever the client asks, only the gate runs, as the SSH user, and the
gate hands the session to the control plane (sessions.py), which decides.
`restrict` turns off port, agent and X11 forwarding and user rc; `pty`
gives back terminals only, for `ssh -t … ssh -p P -e E`.

With SHIPWAY_SSH_PORT set, `shipway serve` runs its own `sshd -D` on that
port (several platforms side by side, and the tests, each have their own),
stops it when it stops (and if it is killed: PR_SET_PDEATHSIG), and starts
it again if it dies. Without it, `shipway ssh:config` prints the lines to add
to the host's own sshd_config.

Everything the SSH user must read lives in a root-owned runtime directory
outside SHIPWAY_HOME (which is root's alone, S3): the gate script, the
authorized_keys file, the session socket — `/run/shipway/ssh-<id>/`, mode
0750, group of the SSH user.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from shipway.errors import PlatformError, UsageError

GATE_SOURCE = Path(__file__).with_name("gate.py")
GATE_PYTHON = "/usr/bin/python3"
SSHD = "/usr/sbin/sshd"
RUN_BASE = Path("/run/shipway")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
_KEY_TYPE = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|"
                       r"sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)")
_BLOB = re.compile(r"[A-Za-z0-9+/]{16,16384}={0,3}")
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
RESTART_AFTER = 1.0


@dataclass(frozen=True)
class SshSettings:
    port: int | None
    user: str
    listen_host: str
    home: Path

    @property
    def runtime_dir(self) -> Path:
        digest = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:12]
        return RUN_BASE / f"ssh-{digest}"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "sessions.sock"

    @property
    def gate(self) -> Path:
        return self.runtime_dir / "gate.py"

    @property
    def authorized_keys(self) -> Path:
        return self.runtime_dir / "authorized_keys"

    @property
    def state_dir(self) -> Path:
        return self.home / "ssh"


def ssh_settings(home: Path, listen_host: str, environ: dict[str, str] | None = None) -> SshSettings:
    env = os.environ if environ is None else environ
    raw = env.get("SHIPWAY_SSH_PORT", "")
    try:
        port = int(raw) if raw else None
    except ValueError:
        raise UsageError(f"SHIPWAY_SSH_PORT={raw!r} is not a port number; e.g. 2222") from None
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"SHIPWAY_SSH_PORT={raw!r} is not a port number; e.g. 2222")
    user = env.get("SHIPWAY_SSH_USER") or "shipway"
    if not _USER.fullmatch(user):
        raise UsageError(f"SHIPWAY_SSH_USER={user!r} is not a valid user name")
    return SshSettings(port, user, listen_host, home)


# -- pure renderings -----------------------------------------------------------------------

def sshd_config(s: SshSettings, host_keys: Iterable[Path]) -> str:
    """The whole config of shipway's own sshd: public keys of the SSH user, nothing else."""
    lines = [f"Port {s.port}"]
    if s.listen_host:
        lines.append(f"ListenAddress {s.listen_host}")
    lines += [f"HostKey {key}" for key in host_keys]
    return "\n".join([*lines, "PidFile none", *_policy(s), ""])


def _policy(s: SshSettings) -> list[str]:
    """The lines that matter for safety; also what `ssh:config` tells an operator to add."""
    return [
        f"AllowUsers {s.user}",
        f"AuthorizedKeysFile {s.authorized_keys}",
        "AuthorizedKeysCommand none",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin no",
        "UsePAM no",
        "PermitUserEnvironment no",
        "DisableForwarding yes",
        "AllowTcpForwarding no",
        "AllowAgentForwarding no",
        "AllowStreamLocalForwarding no",
        "X11Forwarding no",
        "PermitTunnel no",
        "GatewayPorts no",
        "PrintMotd no",
        "PrintLastLog no",
        "StrictModes yes",
        "LoginGraceTime 30",
    ]


def host_sshd_lines(s: SshSettings) -> str:
    """For a host sshd (SHIPWAY_SSH_PORT unset): a Match block for the SSH user only."""
    policy = [line for line in _policy(s) if not line.startswith(("AllowUsers", "UsePAM",
                                                                  "PrintLastLog", "StrictModes",
                                                                  "LoginGraceTime"))]
    home = user_home(s.user)
    setup = [f"# 1. the user: useradd --system --shell /bin/sh --home-dir {home} {s.user}; "
             f"mkdir -m 755 -p {home}; usermod -p '*' {s.user}",
             "# 2. restart `shipway serve` (it writes the keys for that user's group)",
             "# 3. add these lines at the end of /etc/ssh/sshd_config and reload sshd:"]
    return "\n".join([*setup, f"Match User {s.user}", *(f"    {line}" for line in policy), ""])


def ssh_remote(s: SshSettings, host: str, project: str) -> str | None:
    """The git remote people push to over SSH (None: shipway runs no sshd of its own)."""
    if s.port is None:
        return None
    port = "" if s.port == 22 else f":{s.port}"
    return f"ssh://{s.user}@{host}{port}/{project}.git"


def key_line(fingerprint: str, key: str, s: SshSettings) -> str | None:
    """One authorized_keys line for a key, or None if the key or fingerprint is malformed.

    Only the key's type and blob are kept: a comment (or options) in what a
    user uploaded can never reach the file (a newline would add a line)."""
    parts = key.split()
    if (not _FINGERPRINT.fullmatch(fingerprint) or len(parts) < 2
            or not _KEY_TYPE.fullmatch(parts[0]) or not _BLOB.fullmatch(parts[1])):
        return None
    command = f"{GATE_PYTHON} -I {s.gate} --socket {s.socket} --key {fingerprint}"
    return f'command="{command}",restrict,pty {parts[0]} {parts[1]}'


def authorized_keys_text(keys: Iterable[tuple[str, str]], s: SshSettings) -> tuple[str, int]:
    """The file's text and how many keys were left out as malformed."""
    lines = [key_line(fp, key, s) for fp, key in keys]
    good = [line for line in lines if line is not None]
    return "".join(f"{line}\n" for line in good), len(lines) - len(good)


# -- effects -------------------------------------------------------------------------------

def user_home(name: str) -> Path:
    """The SSH user's home: its own, root's and empty (sshd starts sessions there), never
    the default SHIPWAY_HOME /var/lib/shipway, which `--home-dir /var/lib/shipway` would name."""
    return Path(f"/var/lib/{name}-ssh")


def ensure_user(name: str) -> pwd.struct_passwd:
    """The SSH user, created if missing: a system user with a shell (sshd runs the forced
    command with it) and `*` as password, which sshd does not take for a locked account."""
    home = user_home(name)
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o755)  # serve's umask is 077; sshd's session must chdir here
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    proc = subprocess.run(["useradd", "--system", "--shell", "/bin/sh", "--no-create-home",
                           "--home-dir", str(home), "--user-group", name],
                          capture_output=True, text=True, check=False)
    try:
        entry = pwd.getpwnam(name)  # another instance may have made it meanwhile
    except KeyError:
        raise PlatformError(f"cannot create the SSH user {name!r}: {proc.stderr.strip()}") from None
    subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True)
    return entry


def locked_password(name: str, shadow: Path = Path("/etc/shadow")) -> bool:
    """Whether the user's password field starts with `!`: sshd without PAM then refuses
    every login, keys included (`*` is the unlocked "no password")."""
    try:
        lines = shadow.read_text().splitlines()
    except OSError:
        return False
    return any(line.split(":")[1].startswith("!") for line in lines
               if line.split(":")[0] == name and line.count(":") >= 1)


def prepare_runtime(s: SshSettings, gid: int) -> None:
    RUN_BASE.mkdir(parents=True, exist_ok=True)
    # Made 0700 by whoever came first under serve's umask (claims.py): the SSH user must pass.
    os.chmod(RUN_BASE, os.stat(RUN_BASE).st_mode & 0o7777 | 0o711)
    s.runtime_dir.mkdir(mode=0o750, exist_ok=True)
    os.chown(s.runtime_dir, 0, gid)
    os.chmod(s.runtime_dir, 0o750)
    tmp = s.gate.with_suffix(".tmp")
    shutil.copyfile(GATE_SOURCE, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, s.gate)


def write_authorized_keys(s: SshSettings, keys: Iterable[tuple[str, str]], gid: int) -> int:
    """Replace the authorized_keys file at once; how many keys were malformed."""
    text, bad = authorized_keys_text(keys, s)
    tmp = s.authorized_keys.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o640)
    with os.fdopen(fd, "w") as f:
        os.fchown(f.fileno(), 0, gid)
        os.fchmod(f.fileno(), 0o640)
        f.write(text)
    os.replace(tmp, s.authorized_keys)
    return bad


def ensure_host_keys(s: SshSettings) -> list[Path]:
    s.state_dir.mkdir(mode=0o700, exist_ok=True)
    key = s.state_dir / "ssh_host_ed25519_key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "shipway",
                        "-f", str(key)], check=True, capture_output=True)
    return [key]


def _wait_listening(host: str, port: int, alive: Callable[[], int | None],
                    timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive() is not None:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Sshd:
    """shipway's own sshd, kept running until `stop`."""

    def __init__(self, s: SshSettings, log: Path) -> None:
        self.s = s
        self.log = log
        self.config = s.state_dir / "sshd_config"
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        if not Path(SSHD).exists():
            raise PlatformError("sshd not found: apt-get install openssh-server")
        if not Path(GATE_PYTHON).exists():
            raise PlatformError(f"{GATE_PYTHON} not found (the SSH gate runs on it): "
                                "apt-get install python3")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        self.config.write_text(sshd_config(self.s, ensure_host_keys(self.s)))
        check = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True, text=True,
                               check=False)
        if check.returncode != 0:
            raise PlatformError(f"sshd refused its config: {check.stderr.strip()}")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        threading.Thread(target=self._supervise, daemon=True, name="sshd").start()
        self._ready.wait(5)
        if not _wait_listening(self.s.listen_host or "127.0.0.1", self.s.port or 0, lambda: self.pid):
            tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.exists() else []
            raise PlatformError(f"sshd did not listen on port {self.s.port}: "
                                f"{tail[0] if tail else 'no reason given'} (see {self.log})")

    def _supervise(self) -> None:
        # This thread starts sshd and lives as long as it: PR_SET_PDEATHSIG fires
        # when the starting thread ends, so a kill -9 of serve takes sshd along.
        while not self._stopping.is_set():
            with self.log.open("ab") as out:
                self._proc = subprocess.Popen(
                    ["setpriv", "--pdeathsig", "TERM", "--", SSHD, "-D", "-e", "-f", str(self.config)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, close_fds=True)
            self._ready.set()
            code = self._proc.wait()
            if self._stopping.is_set():
                return
            print(f"shipway: W: sshd (port {self.s.port}) exited with status {code}; "
                  f"restarting it (see {self.log})", file=sys.stderr, flush=True)
            time.sleep(RESTART_AFTER)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def stop(self) -> None:
        self._stopping.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
