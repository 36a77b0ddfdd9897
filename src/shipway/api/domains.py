"""The domain endpoints (T1): a thin shell over `Platform.domains`.

# A1: managing a project's domains needs the "project:admin" role (issue 10);
# the integrator wires the role check into these routes.
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
    # A1: require "project:admin" on `project` here.
    found = await run_in_threadpool(_domains(request).add, project, name)
    return JSONResponse(found, status_code=201)


async def listing(request: Request) -> Response:
    # A1: reading domains needs a role on the project (viewer or more).
    return JSONResponse(await run_in_threadpool(_domains(request).list,
                                                request.path_params["project"]))


async def get(request: Request) -> Response:
    p, name = request.path_params["project"], request.path_params["name"]
    return JSONResponse(await run_in_threadpool(_domains(request).get, p, name))


async def delete(request: Request) -> Response:
    p, name = request.path_params["project"], request.path_params["name"]
    # A1: require "project:admin" on `p` here.
    return JSONResponse(await run_in_threadpool(_domains(request).delete, p, name))


ROUTES = [
    Route("/projects/{project}/domains", add, methods=["POST"]),
    Route("/projects/{project}/domains", listing, methods=["GET"]),
    Route("/projects/{project}/domains/{name}", get, methods=["GET"]),
    Route("/projects/{project}/domains/{name}", delete, methods=["DELETE"]),
]
