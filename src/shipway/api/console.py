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
    return JSONResponse({"url": _link_root(request.app.state.api_info, base) + f"/login?t={code}",
                         "code": code, "direct_url": f"{base}/console/login?t={code}",
                         "expires_in": int(LINK_SECONDS), "user": email})


def _link_root(info: dict[str, str], base: str) -> str:
    """W1: the router's console host when SHIPWAY_CONSOLE_HOST names it (a host the
    operator made resolve), else the API listener, which is always reachable."""
    if info.get("console_links") == "router" and info.get("console"):
        return info["console"].rstrip("/")
    return f"{base}/console"


ROUTES = [Route("/console-links", login_link, methods=["POST"])]
