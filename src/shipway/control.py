"""`shipway serve`: wire the platform together and serve the API on a unix socket."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import uvicorn

from shipway.access.gateway import SshGateway
from shipway.api.server import create_app
from shipway.api.tls import Listen, ensure_tls, names_for, parse_listen
from shipway.claims import claim_ranges
from shipway.console.app import create_console
from shipway.errors import PlatformError
from shipway.homeperms import UMASK, check_router_reaches, secure_home
from shipway.platform import Platform
from shipway.router.caddy import Caddy
from shipway.router.control import RouterControl
from shipway.router.plan import console_site
from shipway.router.table import Site
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
        coalesce_seconds=settings.router_coalesce_ms / 1000,
        platform_sites=console_sites(settings, router_home),
    )
    return Platform(settings, control)


def console_sites(settings: Settings, router_home: Path) -> list[Site]:
    """W1: with SHIPWAY_API_LISTEN, the console's site on the router too, proxied to
    the HTTPS API listener. TCP over loopback, not a unix socket of its own: the
    listener already asks every request for a session or token (the unix socket
    is the operator's, and a second one the router could reach would need the
    same care); TLS to it trusts the API's CA alone. The CA is copied into the
    router's home: Caddy runs as its own uid and may not read SHIPWAY_HOME/api."""
    value = os.environ.get("SHIPWAY_API_LISTEN")
    if not value:
        return []
    listen = parse_listen(value)
    tls = ensure_tls(settings.home / "api", names_for(listen))
    target = router_home / "api-ca.crt"
    target.write_bytes(tls.ca.read_bytes())
    os.chown(target, settings.router_uid, settings.router_uid)
    target.chmod(0o444)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(listen.host, listen.host)
    dial = f"[{host}]:{listen.port}" if ":" in host else f"{host}:{listen.port}"
    # "localhost" is always among the API certificate's names (api/tls.py names_for).
    return [console_site(settings.console_host, dial, str(target), "localhost")]


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
    ssh = SshGateway(platform, platform.access)
    ssh.start()
    sock = settings.api_socket
    # Only root reaches the API on this machine: the socket's directory is 0700.
    sock.parent.mkdir(mode=0o700, exist_ok=True)
    os.chmod(sock.parent, 0o700)
    sock.unlink(missing_ok=True)
    remote = _remote_api(settings, platform)
    local = create_app(platform)
    local.state.api_info = remote[1] if remote else {}
    # access_log off on both: a request line is never logged, so neither is anything in it (A3).
    config = uvicorn.Config(local, uds=str(sock), log_level="warning", access_log=False,
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    print(f"shipway: control plane ready (API on {sock}, "
          f"router on :{settings.http_port}/:{settings.https_port})", flush=True)
    try:
        server.run()
    finally:
        ssh.stop()
        if remote:
            remote[0].should_exit = True
        claim.release()


def console_url(settings: Settings) -> str:
    """W1: the console's address through the router (its https port named unless 443)."""
    port = "" if settings.https_port == 443 else f":{settings.https_port}"
    return f"https://{settings.console_host}{port}/console/"


def _remote_api(settings: Settings, platform: Platform) -> tuple[uvicorn.Server, dict[str, str]] | None:
    """A3: with SHIPWAY_API_LISTEN, the same API over HTTPS, every request with a token.

    A second uvicorn server on its own thread (uvicorn installs no signal handlers off the
    main thread): the unix-socket server owns the process's lifetime and stops this one."""
    value = os.environ.get("SHIPWAY_API_LISTEN")
    if not value:
        return None
    listen: Listen = parse_listen(value)
    tls = ensure_tls(settings.home / "api", names_for(listen))
    app = create_app(platform, remote=True)
    info = {"url": f"https://{listen.url_host}:{listen.port}", "ca": str(tls.ca),
            "console": console_url(settings),
            # console:login links go through the router when the operator named its host.
            "console_links": "router" if settings.console_host_setting else "api"}
    app.state.api_info = info
    # W1: the console under /console/, acting through an in-process copy of the local API.
    app.mount("/console", create_console(platform, create_app(platform)))
    config = uvicorn.Config(app, host=listen.host, port=listen.port, log_level="warning",
                            access_log=False, ssl_certfile=str(tls.cert),
                            ssl_keyfile=str(tls.key), timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api-https", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise PlatformError(f"the HTTPS API did not start on {value} (SHIPWAY_API_LISTEN): "
                            "is the port taken or the address not this machine's?")
    print(f"shipway: API over HTTPS on {info['url']} (CA {tls.ca}; a token per request)",
          flush=True)
    return server, info
