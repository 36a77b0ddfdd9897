"""What every console page shares: the template environment, headers, accessors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from shipway.console.api import ApiAsUser
from shipway.console.sessions import ConsoleSessions, Session
from shipway.platform import Platform

HERE = Path(__file__).parent
# autoescape on for every template (W1: names and log lines are text, never markup).
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    html = ENV.get_template(template).render(
        csrf=session.csrf if session else "", me=getattr(request.state, "actor", None),
        request=request, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


def sessions(request: Request) -> ConsoleSessions:
    found: ConsoleSessions = request.app.state.sessions
    return found


def api(request: Request) -> ApiAsUser:
    found: ApiAsUser = request.app.state.api
    return found


def platform(request: Request) -> Platform:
    found: Platform = request.app.state.platform
    return found


