"""The one way the CLI and the git hook reach the control plane: its HTTP API.

By default the API listens on a unix socket inside SHIPWAY_HOME (only root
and the socket's group can connect). With SHIPWAY_API_URL set, the client
speaks TCP and sends SHIPWAY_API_TOKEN as a bearer token.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx

from shipway.errors import NotFound, PlatformError, UsageError, UserError
from shipway.settings import Settings

ERRORS: dict[str, type[Exception]] = {
    "not_found": NotFound,
    "usage": UsageError,
    "user": UserError,
}


class ApiClient:
    def __init__(self, settings: Settings, timeout: float | None = 30.0) -> None:
        url = os.environ.get("SHIPWAY_API_URL")
        headers = {}
        if url:
            transport = httpx.HTTPTransport()
            headers["Authorization"] = f"Bearer {os.environ.get('SHIPWAY_API_TOKEN', '')}"
        else:
            url = "http://shipway"
            transport = httpx.HTTPTransport(uds=str(settings.api_socket))
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
            f"cannot reach the shipway control plane at {self._socket} ({exc}); "
            "start it with `shipway serve` (and check SHIPWAY_HOME)"
        )


def _decode(response: httpx.Response) -> Any:
    try:
        payload = response.json()
    except ValueError:
        payload = {"error": response.text, "kind": "platform"}
    if response.status_code >= 400:
        kind = payload.get("kind", "platform")
        raise ERRORS.get(kind, PlatformError)(payload.get("error", "unknown error"))
    return payload
