"""Who listens on an app's TCP port: the app, or a squatter (S4).

The firewall (deploy/reach.py) decides who may *connect* to an app port,
but any process may *bind* a port nobody holds. While an app is down (a
deploy between stop and start, a deactivated environment whose port is
kept for it), another environment's app could listen there, and the router
would hand it the victim's requests, cookies and all. So before the gate
opens, the control plane checks in /proc/net/tcp{,6} (the host's network
namespace, which apps share) that every listener on the port is the app's
own uid. Linux lets two sockets share a listening port only under one uid
(SO_REUSEPORT), so once the app holds its port nobody else can take it.

A unix-socket app binds in its own socket directory, so it may put anything
there instead of its socket: a symlink to another app's socket would send
its route's requests to that app. The router never follows one (it dials
through a `nosymfollow` view, deploy/gate.py), and the gate stays shut unless
app.sock is a socket the app's uid owns (`check_own_socket`).
"""

from __future__ import annotations

import stat
from pathlib import Path

from shipway.errors import AppError

LISTEN = "0A"
TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


def listening_uids(table: str, port: int) -> set[int]:
    """The uids of the sockets listening on `port`, from one /proc/net/tcp text (pure)."""
    uids = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[3] != LISTEN:
            continue
        _, _, hex_port = fields[1].rpartition(":")
        if int(hex_port, 16) == port:
            uids.add(int(fields[7]))
    return uids


def check_own_listener(port: int, uid: int, tables: tuple[Path, ...] = TABLES) -> None:
    """Raise unless `uid` alone listens on `port`."""
    others = set().union(*(listening_uids(_read(t), port) for t in tables)) - {uid}
    if others:
        raise AppError(
            f"port {port} is held by uid {', '.join(map(str, sorted(others)))}, not by this "
            f"app (uid {uid}): another process took the app's port while it was down; the "
            "router is kept away from it. Stop that process and redeploy")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""  # no IPv6 on this host


def check_own_socket(path: Path, uid: int) -> None:
    """Raise unless `path` is a unix socket the app's `uid` bound: not a symlink
    the app left in its place (to another tenant's socket, or Caddy's admin one)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise AppError(f"the app's socket {path.name} is gone; the router is kept away") from None
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != uid:
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else f"not a socket of uid {uid} (uid {st.st_uid})"
        raise AppError(
            f"the app's {path.name} is {kind}, not the socket the app bound: the router is "
            "kept away from it. The app must listen on $SOCKET itself")
