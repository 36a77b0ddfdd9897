"""SSH for `shipway serve` (A2, A4): the session socket, the forced command's files and,
with SHIPWAY_SSH_PORT, shipway's own sshd — started together, stopped together."""

from __future__ import annotations

import pwd
import shutil
from pathlib import Path
from typing import Any

from shipway.access import sshd
from shipway.access.dispatch import SessionHandler
from shipway.access.sessions import SessionServer

# git's push quarantine (tmp-objdir.c), older and newer names.
QUARANTINES = ("tmp_objdir-incoming-*", "incoming-*")


def clear_quarantines(git_dir: Path) -> list[Path]:
    """The `objects/tmp_objdir-incoming-*` directories pushes killed mid-way left (S6): git drops
    its quarantine when a push ends, so at start-up none is in use."""
    removed = []
    for leftover in sorted(p for pattern in QUARANTINES for p in git_dir.glob(f"*.git/objects/{pattern}")):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
    return removed


class SshGateway:
    def __init__(self, platform: Any, access: Any) -> None:
        settings = platform.settings
        self.access = access
        self.s = sshd.ssh_settings(settings.home, settings.listen_host)
        self.platform = platform
        self.sshd: sshd.Sshd | None = None
        self.server: SessionServer | None = None
        self.gid = 0
        self.uid: int | None = None

    def start(self) -> None:
        for path in clear_quarantines(self.platform.settings.home / "git"):
            print(f"shipway: removed {path.name} an interrupted push left in {path.parent.parent.name}",
                  flush=True)
        self._resolve_user()
        sshd.prepare_runtime(self.s, self.gid)
        self.server = SessionServer(self.s.socket, SessionHandler(self.platform, self.access, self.uid),
                                    self.gid)
        self.server.start()
        self.refresh_keys()
        self.access.on_keys_changed(self.refresh_keys)
        if self.s.port is not None:
            self.sshd = sshd.Sshd(self.s, self.platform.settings.home / "logs" / "sshd.log")
            self.sshd.start()
            print(f"shipway: SSH on port {self.s.port} (ssh://{self.s.user}@HOST:{self.s.port}/PROJECT.git)",
                  flush=True)

    def _resolve_user(self) -> None:
        if self.s.port is not None:
            entry = sshd.ensure_user(self.s.user)
            if sshd.locked_password(self.s.user):
                print(f"shipway: W: the SSH user {self.s.user!r} has a locked password ('!'), "
                      f"so sshd refuses every key; unlock it: usermod -p '*' {self.s.user}",
                      flush=True)
        else:  # the host's sshd may serve it, if the operator made the user (ssh:config)
            try:
                entry = pwd.getpwnam(self.s.user)
            except KeyError:
                return
        self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def refresh_keys(self) -> None:
        bad = sshd.write_authorized_keys(self.s, self.access.authorized_keys(), self.gid)
        if bad:
            print(f"shipway: W: {bad} malformed SSH key(s) left out of authorized_keys", flush=True)

    def stop(self) -> None:
        if self.sshd is not None:
            self.sshd.stop()
        if self.server is not None:
            self.server.stop()
        # The keys and the gate go too: with the control plane down, nothing may be let in.
        shutil.rmtree(self.s.runtime_dir, ignore_errors=True)
