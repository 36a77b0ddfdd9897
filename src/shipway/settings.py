"""Platform settings, read once from the environment.

Several shipway instances may run side by side on one machine (the tests do),
so everything that is machine-global — uids, the nftables table name, ports —
is derived from SHIPWAY_HOME unless set explicitly.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

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
    def build_uid(self) -> int:
        return self.uid_base + 1

    @property
    def build_uids(self) -> tuple[int, int]:
        """The uids the firewall keeps away from every local address."""
        return (self.uid_base, self.uid_base + 99)

    @property
    def apps_gid(self) -> int:
        """The group of every app process; the router is a member (see deploy/gate.py)."""
        return self.uid_base + 998

    @property
    def router_uid(self) -> int:
        # Outside build_uids: the firewall would also drop the router's replies.
        return self.uid_base + 999

    def app_uid(self, slot: int) -> int:
        return self.uid_base + 100 + slot

    def service_uid(self, slot: int) -> int:
        return self.uid_base + 500 + slot

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
        # 1000 uids per instance, above the range Debian hands to people.
        uid_base=_int(env, "SHIPWAY_UID_BASE", 200_000 + (digest % 5000) * 1000),
        version_policy=_policy(env.get("SHIPWAY_VERSION_POLICY", "exact")),
        # 300 ports per instance for TCP apps, below Linux's ephemeral range.
        port_base=_int(env, "SHIPWAY_PORT_BASE", 10_000 + (digest % 66) * 300),
        passthrough_env=tuple(
            n for n in env.get("SHIPWAY_BUILD_PASSTHROUGH_ENV", "").split(",") if n
        ),
    )
