"""The domain endpoints (T1): a thin shell over `Platform.domains`.

Who may call them is api/authz.py's table (A1): project admins change domains,
any of the project's users reads them.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipway.errors import UsageError


def _domains(request: Request) -> Any:
    return request.app.state.platform.domains


async def add(request: Request) -> Response:
    raw = await request.body()
    body = await request.json() if raw else {}
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str):
        raise UsageError('send {"name": "www.example.com"}: the domain name as a string')
    project = request.path_params["project"]
    found = await run_in_threadpool(_domains(request).add, project, name)
    return JSONResponse(found, status_code=201)


async def listing(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_domains(request).list,
                                                request.path_params["project"]))


async def get(request: Request) -> Response:
    p, name = request.path_params["project"], request.path_params["name"]
    return JSONResponse(await run_in_threadpool(_domains(request).get, p, name))


async def delete(request: Request) -> Response:
    p, name = request.path_params["project"], request.path_params["name"]
    return JSONResponse(await run_in_threadpool(_domains(request).delete, p, name))


ROUTES = [
    Route("/projects/{project}/domains", add, methods=["POST"]),
    Route("/projects/{project}/domains", listing, methods=["GET"]),
    Route("/projects/{project}/domains/{name}", get, methods=["GET"]),
    Route("/projects/{project}/domains/{name}", delete, methods=["DELETE"]),
]
