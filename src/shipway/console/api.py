"""The console's one way to act: the same API, in process, as the signed-in user (W1, must-hold).

Every page read and every action is a request to the guarded API app
(api/server.py `create_app`), with `X-Shipway-Actor` set to the session's
user — so the authorisation table (api/authz.py) and `Access.require`
decide exactly as for the CLI, and the console keeps no state but its
sessions. The header is set here, never taken from the browser's request.
"""

from __future__ import annotations

from typing import Any

import httpx

from shipway.errors import Forbidden, NotFound, ShipwayError, Unauthorized, UsageError, UserError

_KINDS: dict[str, type[ShipwayError]] = {"forbidden": Forbidden, "not_found": NotFound,
                                         "unauthorized": Unauthorized, "usage": UsageError,
                                         "user": UserError}


class ApiAsUser:
    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)

    async def call(self, user_id: str, method: str, path: str, body: Any = None,
                   params: dict[str, str] | None = None) -> Any:
        async with httpx.AsyncClient(transport=self._transport, base_url="http://console",
                                     headers={"X-Shipway-Actor": user_id}, timeout=600) as client:
            answer = await client.request(method, path, json=body, params=params)
        if answer.status_code >= 400:
            try:
                data = answer.json()
            except ValueError:
                data = {"error": answer.text, "kind": "platform"}
            raise _KINDS.get(data.get("kind"), ShipwayError)(str(data.get("error")))
        if answer.headers.get("content-type", "").startswith("application/json"):
            return answer.json()
        return answer.text
