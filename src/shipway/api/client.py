"""The one way the CLI and the git hook reach the control plane: its HTTP API.

By default the API listens on a unix socket inside SHIPWAY_HOME (only root
can connect). With SHIPWAY_API_URL set (or a URL saved by `shipway
auth:api-token-login`), the client speaks HTTPS and sends SHIPWAY_API_TOKEN as
a bearer token, trusting the CA file SHIPWAY_API_CA when given (A3).
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from shipway.errors import Forbidden, NotFound, PlatformError, Unauthorized, UsageError, UserError
from shipway.settings import Settings

ERRORS: dict[str, type[Exception]] = {
    "not_found": NotFound,
    "forbidden": Forbidden,
    "unauthorized": Unauthorized,
    "usage": UsageError,
    "user": UserError,
}


def config_path() -> Path:
    """Where `shipway auth:api-token-login` keeps the API URL and token (mode 0600)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shipway" / "config.json"


def remote_settings() -> dict[str, str]:
    """The remote API to use: SHIPWAY_API_URL/_TOKEN/_CA first, then the config file; {} = local."""
    if os.environ.get("SHIPWAY_API_URL"):
        return {"url": os.environ["SHIPWAY_API_URL"],
                "token": os.environ.get("SHIPWAY_API_TOKEN", ""),
                "ca": os.environ.get("SHIPWAY_API_CA", "")}
    try:
        saved = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or not saved.get("url"):
        return {}
    return {k: str(saved.get(k) or "") for k in ("url", "token", "ca")}


class ApiClient:
    def __init__(self, settings: Settings, timeout: float | None = 30.0,
                 actor: str | None = None, local: bool = False) -> None:
        """`actor`: a user id the request acts for (X-Shipway-Actor; the unix socket only,
        so it implies `local`). `local`: the unix socket even if a remote API is configured."""
        remote = {} if local or actor else remote_settings()
        headers = {}
        if remote:
            url = remote["url"]
            # A3: the server's own CA (`shipway url --api` prints its path), else the system's.
            verify = _trust(remote["ca"])
            transport = httpx.HTTPTransport(verify=verify)
            headers["Authorization"] = f"Bearer {remote['token']}"
            self._where = url
        else:
            url = "http://shipway"
            transport = httpx.HTTPTransport(uds=str(settings.api_socket))
            self._where = str(settings.api_socket)
            if actor:
                headers["X-Shipway-Actor"] = actor
        self._socket = settings.api_socket
        self._http = httpx.Client(
            transport=transport, base_url=url, headers=headers, timeout=timeout
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return _decode(response)

    def text(self, path: str) -> str:
        try:
            response = self._http.get(path)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.status_code >= 400:
            _decode(response)
        return response.text

    def stream(self, method: str, path: str, body: dict[str, Any] | None = None) -> Iterator[dict]:
        """Yield the JSON objects of a newline-delimited JSON response as they arrive."""
        try:
            with self._http.stream(method, path, json=body, timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    _decode(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: Exception) -> PlatformError:
        return PlatformError(
            f"cannot reach the shipway control plane at {self._where} ({exc}); "
            "start it with `shipway serve` (and check SHIPWAY_HOME)"
        )


def _trust(ca: str) -> ssl.SSLContext | bool:
    if not ca:
        return True
    try:
        return ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot use the API's CA file {ca} ({exc}); copy it from the server "
                         "(`shipway url --api` names it) and set SHIPWAY_API_CA") from None


def _decode(response: httpx.Response) -> Any:
    try:
        payload = response.json()
    except ValueError:
        payload = {"error": response.text, "kind": "platform"}
    if response.status_code >= 400:
        kind = payload.get("kind", "platform")
        raise ERRORS.get(kind, PlatformError)(payload.get("error", "unknown error"))
    return payload
