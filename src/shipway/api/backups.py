"""The backup endpoints (BK1): a thin shell over `Platform.backups`."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _backups(request: Request) -> Any:
    return request.app.state.platform.backups


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    return dict(await request.json()) if raw else {}


async def create(request: Request) -> Response:
    p, e = request.path_params["project"], request.path_params["env"]
    live = bool((await _body(request)).get("live"))
    return JSONResponse({"activity": await run_in_threadpool(_backups(request).create, p, e, live)})


async def listing(request: Request) -> Response:
    env = request.query_params.get("environment")
    found = await run_in_threadpool(_backups(request).list, request.path_params["project"], env)
    return JSONResponse(found)


async def get(request: Request) -> Response:
    p, backup_id = request.path_params["project"], request.path_params["id"]
    return JSONResponse(await run_in_threadpool(_backups(request).get, p, backup_id))


async def restore(request: Request) -> Response:
    p, backup_id = request.path_params["project"], request.path_params["id"]
    body = await _body(request)
    activity = await run_in_threadpool(_backups(request).restore, p, backup_id,
                                       body.get("target"), bool(body.get("no_code")))
    return JSONResponse({"activity": activity})


async def delete(request: Request) -> Response:
    p, backup_id = request.path_params["project"], request.path_params["id"]
    return JSONResponse({"activity": await run_in_threadpool(_backups(request).delete, p, backup_id)})


async def schedule(request: Request) -> Response:
    p, e = request.path_params["project"], request.path_params["env"]
    body = await _body(request)
    return JSONResponse(await run_in_threadpool(_backups(request).schedule, p, e, body))


ROUTES = [
    Route("/projects/{project}/environments/{env}/backups", create, methods=["POST"]),
    Route("/projects/{project}/environments/{env}/backup-schedule", schedule, methods=["POST"]),
    Route("/projects/{project}/backups", listing, methods=["GET"]),
    Route("/projects/{project}/backups/{id}", get, methods=["GET"]),
    Route("/projects/{project}/backups/{id}", delete, methods=["DELETE"]),
    Route("/projects/{project}/backups/{id}/restore", restore, methods=["POST"]),
]
