"""The request gate: hold and release an app's traffic without touching Caddy.

Any Caddy config change fails the requests it holds at that moment
(NOTES.md), so the switch from "hold" to "serve" must happen outside Caddy.
Caddy keeps retrying a dial that fails, for up to the hold limit; the gate
makes the dial fail while the deploy runs and succeed once the new release
may serve:

- unix-socket apps: Caddy dials a fixed upstream path, a symlink to the
  socket the app binds. Holding removes the link; serving puts it back (one
  atomic rename), so a crashed app that its supervisor restarts is reached
  again with no help. Apps run in a group the router belongs to, with umask
  007, so whatever umask-respecting server binds the socket, Caddy may
  connect to it and nobody else may. S4: the socket's directory is the
  app's, so the app may put a symlink where its socket was (to another
  tenant's socket, or Caddy's admin one). The link therefore points into
  `runview/`, a `nosymfollow` bind mount of `run/`: the kernel follows no
  symlink found there, whoever dials (ELOOP, the app's route answers 503).
- TCP apps: Caddy runs as its own uid; an nftables set of held ports makes
  its *new* connections to those ports fail at once (`ct state new`, so a
  response already in flight is not cut), while a deploy hook or health check
  from another uid reaches the new app directly. Serving removes the port.

Holding is for deploys only (D2): a crashed app must cost its clients a quick
503, not the hold limit. Each app has a hold marker, a file the router stats
on every request (router/caddyconfig.py): present, a failing dial is retried
up to the hold limit; absent, for under a second. Order matters at both ends
so a request never sees "not deploying" while the gate is closed:
`begin_hold` before closing the gate, `end_hold` after opening it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

from shipway import bindview
from shipway.deploy.instances import Instance
from shipway.errors import PlatformError

HELD_SET = "held_ports"
RUN_VIEW = "runview"  # relative to SHIPWAY_HOME


def _nft(*args: str) -> None:
    proc = subprocess.run(["nft", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PlatformError(f"nft {' '.join(args)} failed: {proc.stderr.strip()}")


def gate_script(table: str, router_uid: int) -> str:
    """nft commands that (re)create the set and the one rule, nothing held (pure)."""
    t = f"inet {table}"
    return "\n".join([
        f"add table {t}",
        f"add set {t} {HELD_SET} {{ type inet_service; }}",
        f"add chain {t} gate {{ type filter hook output priority 0; }}",
        # A table left by an earlier run may hold ports, or name another router uid.
        f"flush chain {t} gate",
        f"flush set {t} {HELD_SET}",
        f"add rule {t} gate meta skuid {router_uid} tcp dport @{HELD_SET} ct state new "
        "reject with tcp reset",
    ]) + "\n"


def ensure_tcp_gate(table: str, router_uid: int) -> None:
    """At start-up, when no deploy runs: one transaction, so nothing is ever half set."""
    proc = subprocess.run(["nft", "-f", "-"], input=gate_script(table, router_uid),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PlatformError(f"nft failed to set up the request gate: {proc.stderr.strip()}")


def hold_port(table: str, port: int) -> None:
    _nft("add", "element", "inet", table, HELD_SET, f"{{ {port} }}")


def release_port(table: str, port: int) -> None:
    proc = subprocess.run(["nft", "delete", "element", "inet", table, HELD_SET, f"{{ {port} }}"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0 and "No such file" not in proc.stderr:
        raise PlatformError(f"cannot release port {port}: {proc.stderr.strip()}")


def routed_socket(inst: Instance) -> Path:
    """The app's socket as the router reaches it: through the view that follows no symlink."""
    return inst.home / RUN_VIEW / inst.new_socket.relative_to(inst.home / "run")


def ensure_run_view(home: Path) -> None:
    bindview.ensure(home / "run", home / RUN_VIEW, "nosymfollow")


def repoint_upstreams(home: Path) -> None:
    """Upstream links an older shipway made straight into run/: through the view instead."""
    run, view = home / "run", home / RUN_VIEW
    for link in sorted((home / "u").glob("*.sock")):
        if not link.is_symlink():
            continue
        target = Path(os.readlink(link))
        if target.is_relative_to(run):
            release_socket(view / target.relative_to(run), link)


def hold_socket(upstream: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        upstream.unlink()


def release_socket(app_socket: Path, upstream: Path) -> None:
    link = upstream.with_name(upstream.name + ".new")
    link.unlink(missing_ok=True)
    link.symlink_to(app_socket)
    os.replace(link, upstream)


def hold_marker(inst: Instance) -> Path:
    """The app's hold marker: same short per-app digest as its upstream socket."""
    return inst.home / "holds" / inst.upstream_socket.stem


def begin_hold(marker: Path) -> None:
    """Mark a deploy of the app as running: from now on its requests wait."""
    # The router runs as its own unprivileged uid and opens the marker (its
    # file matcher does, seen: a 0600 marker was never matched): the directory
    # needs search (x) for others, no listing, the file read. chmod because
    # mkdir's and open's modes are cut by the umask (077, homeperms.py).
    marker.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    os.chmod(marker.parent, 0o711)
    tmp = marker.with_name(marker.name + ".new")
    tmp.write_text(f"deploy holding requests since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, marker)


def end_hold(marker: Path) -> None:
    """The deploy is over (served or failed): a down app now answers 503 at once."""
    marker.unlink(missing_ok=True)


def clear_holds(home: Path) -> list[Path]:
    """Remove every hold marker; at start-up no deploy runs, so any left is stale.

    Returns the removed markers, so the caller can say which apps it freed.
    """
    holds = home / "holds"
    if not holds.is_dir():
        return []
    removed = sorted(p for p in holds.iterdir() if p.is_file())
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
