"""TEMPORARY (H2's branch until H1's Access lands; delete at merge): keys from a JSON file.

`SHIPWAY_HOME/state/ssh-standin.json`: {"SHA256:…": {"user_id": "…", "email": "…", "key": "…"}}.
Every known key may do everything; the real role checks are H1's Access.require.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from shipway.access.model import Actor


class StandinAccess:
    def __init__(self, home: Path) -> None:
        self.path = home / "state" / "ssh-standin.json"

    def _keys(self) -> dict[str, dict[str, str]]:
        try:
            return dict(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return {}

    def actor_for_key(self, fingerprint: str) -> Actor | None:
        entry = self._keys().get(fingerprint)
        return Actor("user", entry["email"], entry["user_id"]) if entry else None

    def require(self, actor: Actor, action: str, project: str, environment: str | None = None,
                *, minimum: str | None = None) -> None:
        return None

    def authorized_keys(self) -> list[tuple[str, str]]:
        return [(fp, entry["key"]) for fp, entry in self._keys().items()]

    def on_keys_changed(self, callback: Callable[[], None]) -> None:
        return None
