"""Platform settings, read once from the environment.

Several shipway instances may run side by side on one machine (the tests do),
so everything that is machine-global — uids, the nftables table name, ports —
is derived from SHIPWAY_HOME unless set explicitly. Derived uid and port
bases are only a first guess: `shipway serve` claims them machine-wide,
moves them if another instance holds them, and saves what it took in the
home (claims.py), which later loads read back.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from shipway import ranges
from shipway.environments import slots
from shipway.errors import UsageError
from shipway.sandbox import pids


def _default_home() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/shipway")
    return Path.home() / ".local" / "share" / "shipway"


def _int(environ: dict[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}") from None


@dataclass(frozen=True)
class Settings:
    home: Path
    http_port: int
    https_port: int
    domain: str
    listen_host: str
    hold_seconds: int
    build_timeout: int
    build_disk_mb: int
    build_memory_mb: int
    build_pids: int
    app_pids: int
    artifact_retention: int
    data_pool_mb: int
    data_pool_mode: str
    data_snapshots: int
    cron_deploy_wait: int
    uid_base: int
    version_policy: str
    port_base: int
    passthrough_env: tuple[str, ...]
    # T2: the ACME CA for public names (router/tls.py): SHIPWAY_ACME_CA (a
    # directory URL; Let's Encrypt production by default), SHIPWAY_ACME_CA_ROOT
    # (a PEM file trusted for that CA's own HTTPS), SHIPWAY_ACME_EMAIL.
    acme_ca: str | None = None
    # T3: merge router reloads within this window (router/control.py); 0 = load each at once.
    router_coalesce_ms: int = 0
    acme_ca_root: str | None = None
    acme_email: str | None = None
    # The ranges ("uids", "ports") derived from the home's hash, neither set
    # nor saved: `shipway serve` may move them to a free block (claims.py).
    derived_ranges: frozenset[str] = frozenset()
    # W1: the console's host name on the router (SHIPWAY_CONSOLE_HOST); "" means
    # console.<SHIPWAY_DOMAIN>. The platform's own: no project may claim it.
    console_host_setting: str = ""

    @property
    def console_host(self) -> str:
        return (self.console_host_setting or f"console.{self.domain}").lower().rstrip(".")

    @property
    def instance(self) -> str:
        """A short stable id of this instance, used in machine-global names."""
        return hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:8]

    @property
    def api_socket(self) -> Path:
        return self.home / "control" / "api.sock"

    @property
    def db_path(self) -> Path:
        return self.home / "state" / "shipway.db"

    @property
    def ranges_path(self) -> Path:
        """The uid and port bases the instance claimed once, kept for good (S6)."""
        return self.home / "state" / "ranges.json"

    @property
    def build_uid(self) -> int:
        return self.uid_base + 1

    @property
    def build_uids(self) -> tuple[int, int]:
        """The uids the firewall keeps away from every local address."""
        low, high = slots.BUILD_UIDS
        return (self.uid_base + low, self.uid_base + high)

    @property
    def apps_gid(self) -> int:
        """The group of every app process; the router is a member (see deploy/gate.py)."""
        return self.uid_base + slots.APPS_GID

    @property
    def router_uid(self) -> int:
        # Outside build_uids: the firewall would also drop the router's replies.
        return self.uid_base + slots.ROUTER_UID

    def app_uid(self, slot: int | None) -> int:
        return self.uid_base + slots.APP_UIDS + slots.check_slot(slot)

    def service_uid(self, slot: int | None) -> int:
        return self.uid_base + slots.SERVICE_UIDS + slots.check_slot(slot)

    @property
    def firewall_table(self) -> str:
        return f"shipway_{self.instance}"


def _policy(value: str) -> str:
    if value not in ("exact", "nearest"):
        raise UsageError(f"SHIPWAY_VERSION_POLICY={value!r}: use exact or nearest")
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("SHIPWAY_HOME") or _default_home()).absolute()
    root = os.geteuid() == 0
    digest = int(hashlib.sha256(str(home).encode()).hexdigest()[:6], 16)
    saved = _saved_ranges(home / "state" / "ranges.json")
    derived = frozenset(kind for kind, name in (("uids", "SHIPWAY_UID_BASE"),
                                                ("ports", "SHIPWAY_PORT_BASE"))
                        if not env.get(name) and kind not in saved)
    return Settings(
        home=home,
        http_port=_int(env, "SHIPWAY_HTTP_PORT", 80 if root else 8080),
        https_port=_int(env, "SHIPWAY_HTTPS_PORT", 443 if root else 8443),
        domain=env.get("SHIPWAY_DOMAIN") or "localhost",
        listen_host=env.get("SHIPWAY_LISTEN", ""),
        hold_seconds=_int(env, "SHIPWAY_HOLD_SECONDS", 300),
        build_timeout=_int(env, "SHIPWAY_BUILD_TIMEOUT", 3600),
        build_disk_mb=_int(env, "SHIPWAY_BUILD_DISK", 4096),
        build_memory_mb=_int(env, "SHIPWAY_BUILD_MEMORY", 2048),
        # Processes and threads at once: a whole build; each app process tree (S5).
        build_pids=pids.parse_limit(pids.BUILD_SETTING, env.get(pids.BUILD_SETTING), pids.DEFAULT_BUILD),
        app_pids=pids.parse_limit(pids.APP_SETTING, env.get(pids.APP_SETTING), pids.DEFAULT_APP),
        artifact_retention=_int(env, "SHIPWAY_ARTIFACT_RETENTION", 7 * 86400),
        data_pool_mb=_int(env, "SHIPWAY_DATA_POOL_MB", 20480),
        data_pool_mode=env.get("SHIPWAY_DATA_POOL", "auto"),
        data_snapshots=_int(env, "SHIPWAY_DATA_SNAPSHOTS", 5),
        cron_deploy_wait=_int(env, "SHIPWAY_CRON_DEPLOY_WAIT", 60),
        # Files in the home belong to the uids it was first given: a saved base stays.
        uid_base=ranges.check_uid_base(
            _int(env, "SHIPWAY_UID_BASE", saved.get("uids", ranges.derived_uid_base(digest)))),
        version_policy=_policy(env.get("SHIPWAY_VERSION_POLICY", "nearest")),
        port_base=ranges.check_port_base(
            _int(env, "SHIPWAY_PORT_BASE", saved.get("ports", ranges.derived_port_base(digest)))),
        passthrough_env=tuple(
            n for n in env.get("SHIPWAY_BUILD_PASSTHROUGH_ENV", "").split(",") if n
        ),
        derived_ranges=derived,
        acme_ca=env.get("SHIPWAY_ACME_CA") or None,
        router_coalesce_ms=_int(env, "SHIPWAY_ROUTER_COALESCE_MS", 0),
        acme_ca_root=env.get("SHIPWAY_ACME_CA_ROOT") or None,
        acme_email=env.get("SHIPWAY_ACME_EMAIL") or None,
        console_host_setting=env.get("SHIPWAY_CONSOLE_HOST", "").strip(),
    )


def _saved_ranges(path: Path) -> dict[str, int]:
    """What `shipway serve` saved at its first start ({} before it, or for a client)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {kind: int(data[key]) for kind, key in (("uids", "uid_base"), ("ports", "port_base"))
            if isinstance(data.get(key), int)}
