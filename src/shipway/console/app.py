"""The console's Starlette sub-application (W1): sign-in, sessions, CSRF, pages.

Mounted under /console/ on the HTTPS API listener (docs/console.md says why).
Reads and actions go through `ApiAsUser` (console/api.py): the API's own
authorisation table and `Access.require`, with the signed-in user as actor.
`Access.may` is used only to decide which buttons to draw; a forged POST
is refused by the API all the same and answered with a 403 page.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from shipway.access.model import Actor
from shipway.console import pages
from shipway.console.api import ApiAsUser
from shipway.console.sessions import SESSION_SECONDS, ConsoleSessions, csrf_ok
from shipway.console.views import safe_next
from shipway.console.web import HERE, SECURITY_HEADERS, error_page, platform, render, sessions
from shipway.errors import Forbidden, NotFound, ShipwayError, Unauthorized
from shipway.platform import Platform

COOKIE = "__Host-shipway-console"  # __Host-: Secure, Path=/, no Domain — the browser enforces it


def signed_in(request: Request) -> Actor | None:
    session = sessions(request).session(request.cookies.get(COOKIE))
    if session is None:
        return None
    actor = platform(request).access.actor_by_id(session.user_id)
    if actor is not None:
        request.state.session, request.state.actor = session, actor
    return actor


def page(handler: Any) -> Any:
    """A GET page: signed in, or off to the sign-in page (with a safe `next`)."""

    async def wrapped(request: Request) -> Response:
        if signed_in(request) is None:
            back = quote(request.url.path, safe="/")
            return RedirectResponse(f"/console/login?next={back}", status_code=303)
        return await _answer(request, handler)

    return wrapped


def action(handler: Any) -> Any:
    """A POST: signed in and the session's CSRF token in the form, else 403 (W1)."""

    async def wrapped(request: Request) -> Response:
        if signed_in(request) is None:
            return error_page(request, 403, "Not signed in (or the session expired): sign in again.")
        form = await request.form()
        if not csrf_ok(request.state.session.secret, str(form.get("csrf") or "")):
            return error_page(request, 403, "The form's CSRF token is missing or wrong.")
        request.state.form = form
        return await _answer(request, handler)

    return wrapped


async def _answer(request: Request, handler: Any) -> Response:
    started = time.perf_counter()
    try:
        response: Response = await handler(request)
    except Forbidden as exc:
        return error_page(request, 403, str(exc))
    except Unauthorized as exc:
        return error_page(request, 401, str(exc))
    except NotFound as exc:
        return error_page(request, 404, str(exc))
    except ShipwayError as exc:
        return error_page(request, 400, str(exc))
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    # W5: the server's own time for the page, read by bench/console.py (and browsers' dev tools).
    response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


async def login_form(request: Request) -> Response:
    return render(request, "login.html", token=request.query_params.get("t", ""),
                  next=safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    form = await request.form()
    session = sessions(request).redeem(str(form.get("t") or ""))
    if session is None:
        return render(request, "login.html", status=403, token="", next="/console/",
                      failed="This sign-in link is not valid: it was used, it expired, or it "
                             "was mistyped. Ask for a new one: shipway console:login --user EMAIL")
    response = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
    response.set_cookie(COOKIE, session.secret, max_age=int(request.app.state.session_seconds),
                        path="/", secure=True, httponly=True, samesite="strict")
    return response


@action
async def logout(request: Request) -> Response:
    sessions(request).end(request.state.session.secret)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def create_console(the_platform: Platform, local_api: Any) -> Starlette:
    """The console app; `local_api`: the guarded API app that trusts X-Shipway-Actor (in process)."""
    seconds = float(os.environ.get("SHIPWAY_CONSOLE_SESSION_SECONDS") or SESSION_SECONDS)
    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        *[Route(path, page(fn), methods=["GET"]) for path, fn in pages.GETS],
        *[Route(path, action(fn), methods=["POST"]) for path, fn in pages.POSTS],
    ]
    app = Starlette(routes=routes)
    app.state.platform = the_platform
    app.state.api = ApiAsUser(local_api)
    app.state.sessions = ConsoleSessions(the_platform.store, session_seconds=seconds)
    app.state.session_seconds = seconds
    return app
