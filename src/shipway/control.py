"""`shipway serve`: wire the platform together and serve the API on a unix socket."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import uvicorn

from shipway.api.server import create_app
from shipway.claims import claim_ranges
from shipway.errors import PlatformError
from shipway.homeperms import UMASK, check_router_reaches, secure_home
from shipway.platform import Platform
from shipway.router.caddy import Caddy
from shipway.router.control import RouterControl
from shipway.router.tls import LETS_ENCRYPT, Acme
from shipway.settings import Settings

REQUIRED_TOOLS = {"bwrap": "bubblewrap", "nft": "nftables", "git": "git", "setpriv": "util-linux"}


def check_host() -> None:
    if os.geteuid() != 0:
        raise PlatformError(
            "shipway serve must run as root: it creates sandboxes and drops each build "
            "and app to its own unprivileged uid"
        )
    missing = [pkg for tool, pkg in REQUIRED_TOOLS.items() if shutil.which(tool) is None]
    if missing:
        raise PlatformError(f"missing host tools; install them with: apt-get install {' '.join(missing)}")


def build_platform(settings: Settings) -> Platform:
    router_home = settings.home / "router"
    ports = {"http": settings.http_port, "https": settings.https_port}
    caddy = Caddy(router_home, run_as=settings.router_uid, groups=(settings.apps_gid,),
                  listen=[(settings.listen_host, port) for port in ports.values()])
    caddy.ensure_running()
    control = RouterControl(
        caddy.load, caddy.current_config,
        http_port=settings.http_port, https_port=settings.https_port,
        listen_host=settings.listen_host, admin_socket=caddy.admin_socket,
        storage_dir=caddy.storage_dir, hold_seconds=settings.hold_seconds,
        access_log=router_home / "access.log",
        listen={scheme: caddy.listen_address(settings.listen_host, port)
                for scheme, port in ports.items()},
        acme=router_acme(settings, router_home),
    )
    return Platform(settings, control)


def router_acme(settings: Settings, router_home: Path) -> Acme:
    """T2: the ACME CA from the settings. A CA root is copied into the router's
    home: Caddy runs as its own uid and may not read the file where it is."""
    root = None
    if settings.acme_ca_root:
        source = Path(settings.acme_ca_root)
        if not source.is_file():
            raise PlatformError(f"SHIPWAY_ACME_CA_ROOT={source}: no such file")
        target = router_home / "acme-ca-root.pem"
        target.write_bytes(source.read_bytes())
        os.chown(target, settings.router_uid, settings.router_uid)
        target.chmod(0o444)
        root = str(target)
    try:
        return Acme(ca=settings.acme_ca or LETS_ENCRYPT, ca_root=root, email=settings.acme_email,
                    explicit=settings.acme_ca is not None)
    except ValueError as error:
        raise PlatformError(str(error)) from None


def serve(settings: Settings) -> None:
    check_host()
    settings.home.mkdir(parents=True, exist_ok=True)  # missing parents 0755, as the router needs
    # From here on (S3) what the control plane makes is root's alone unless
    # opened on purpose (homeperms.py).
    os.umask(UMASK)
    settings, claim = claim_ranges(settings)  # held until we exit (S6)
    for note in claim.notes:
        print(f"shipway: {note}", flush=True)
    check_router_reaches(settings.home, settings.router_uid,
                         (settings.router_uid, settings.apps_gid))
    for change in secure_home(settings.home):
        print(f"shipway: made {change} in {settings.home} (S3: root-only state, logs, keys)",
              flush=True)
    platform = build_platform(settings)
    platform.start()
    sock = settings.api_socket
    # Only root reaches the API on this machine: the socket's directory is 0700.
    sock.parent.mkdir(mode=0o700, exist_ok=True)
    os.chmod(sock.parent, 0o700)
    sock.unlink(missing_ok=True)
    config = uvicorn.Config(create_app(platform), uds=str(sock), log_level="warning",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    print(f"shipway: control plane ready (API on {sock}, "
          f"router on :{settings.http_port}/:{settings.https_port})", flush=True)
    server.run()
    claim.release()
