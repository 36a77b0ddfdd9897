"""`shipway console:login --user EMAIL` (W1): a one-time sign-in link, made by the operator."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipway.console.sessions import LINK_SECONDS, ConsoleSessions
from shipway.errors import NotFound, UsageError


async def login_link(request: Request) -> Response:
    raw = await request.body()
    body = await request.json() if raw else {}
    email = str(body.get("user", "") if isinstance(body, dict) else "")
    platform = request.app.state.platform
    user_id = await run_in_threadpool(platform.access.db.user_id, email)
    if user_id is None:
        raise NotFound(f"no user {email!r}; add one with `shipway user:add {email} -p PROJECT`")
    base = (getattr(request.app.state, "api_info", None) or {}).get("url")
    if not base:
        raise UsageError("the console is served on the HTTPS API: start `shipway serve` with "
                         "SHIPWAY_API_LISTEN=HOST:PORT")
    code = await run_in_threadpool(ConsoleSessions(platform.store).new_link, user_id)
    return JSONResponse({"url": f"{base}/console/login?t={code}", "code": code,
                         "expires_in": int(LINK_SECONDS), "user": email})


ROUTES = [Route("/console-links", login_link, methods=["POST"])]
