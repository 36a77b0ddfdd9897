"""The control plane's HTTP API: a thin shell over `Platform`.

Long answers (a push's log, `activity:log --follow`) are newline-delimited
JSON streamed as the activity's log file grows: `{"log": line}` objects, then
one `{"result": ...}` per activity when it completes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shipway.errors import NotFound, ShipwayError, UsageError, UserError
from shipway.platform import Platform

POLL_SECONDS = 0.05


def _error(exc: ShipwayError) -> JSONResponse:
    kind, status = "platform", 500
    if isinstance(exc, NotFound):
        kind, status = "not_found", 404
    elif isinstance(exc, UsageError):
        kind, status = "usage", 400
    elif isinstance(exc, UserError):
        kind, status = "user", 400
    return JSONResponse({"error": str(exc), "kind": kind}, status_code=status)


def follow_log(platform: Platform, activity_id: str, follow: bool = True) -> Iterator[bytes]:
    """Yield an activity's log lines as they are written, then its result."""
    path = platform.activities.log_path(activity_id)
    with path.open("rb") as f:
        pending = b""
        while True:
            done = platform.activity(activity_id).state == "complete"
            chunk = f.read()
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield _ndjson({"log": line.decode("utf-8", "replace")})
            if done or not follow:
                if pending:
                    yield _ndjson({"log": pending.decode("utf-8", "replace")})
                break
            if not chunk:
                time.sleep(POLL_SECONDS)
    activity = platform.activity(activity_id)
    yield _ndjson({"activity": activity_id, "result": activity.result, "state": activity.state})


def _ndjson(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def create_app(platform: Platform) -> Starlette:
    async def project_create(request: Request) -> Response:
        body = await request.json()
        return JSONResponse(await run_in_threadpool(platform.create_project, str(body.get("name", ""))),
                            status_code=201)

    async def project_list(request: Request) -> Response:
        return JSONResponse([{"name": p.name, "id": p.id} for p in platform.registry.projects()])

    async def push(request: Request) -> Response:
        body = await request.json()
        ids = await run_in_threadpool(
            platform.accept_push, request.path_params["project"], body.get("updates", []),
            body.get("git_env", {}), body.get("push_options", []),
        )

        def stream() -> Iterator[bytes]:
            for activity_id in ids:
                yield from follow_log(platform, activity_id)

        return StreamingResponse(stream(), media_type="application/x-ndjson")

    async def environment_list(request: Request) -> Response:
        project = request.path_params["project"]
        platform.registry.project(project)
        return JSONResponse([e.as_json() for e in platform.registry.environments(project)])

    async def environment_info(request: Request) -> Response:
        p, e = request.path_params["project"], request.path_params["env"]
        return JSONResponse(platform.environment(p, e).as_json())

    async def url(request: Request) -> Response:
        p, e = request.path_params["project"], request.path_params["env"]
        return JSONResponse(await run_in_threadpool(platform.url, p, e))

    async def releases(request: Request) -> Response:
        p, e = request.path_params["project"], request.path_params["env"]
        return JSONResponse([r.as_json() for r in platform.release_list(p, e)])

    async def activity_list(request: Request) -> Response:
        project = request.path_params["project"]
        platform.registry.project(project)
        env = request.query_params.get("environment")
        return JSONResponse([a.as_json() for a in platform.activities.list(project, env)])

    async def activity_get(request: Request) -> Response:
        return JSONResponse(platform.activity(request.path_params["id"]).as_json())

    async def activity_log(request: Request) -> Response:
        activity_id = request.path_params["id"]
        platform.activity(activity_id)
        follow = request.query_params.get("follow") == "1"
        return StreamingResponse(follow_log(platform, activity_id, follow),
                                 media_type="application/x-ndjson")

    routes = [
        Route("/projects", project_create, methods=["POST"]),
        Route("/projects", project_list, methods=["GET"]),
        Route("/projects/{project}/push", push, methods=["POST"]),
        Route("/projects/{project}/environments", environment_list),
        Route("/projects/{project}/environments/{env}", environment_info),
        Route("/projects/{project}/environments/{env}/url", url),
        Route("/projects/{project}/environments/{env}/releases", releases),
        Route("/projects/{project}/activities", activity_list),
        Route("/activities/{id}", activity_get),
        Route("/activities/{id}/log", activity_log),
    ]
    return Starlette(routes=routes, exception_handlers={ShipwayError: _handle})  # type: ignore[dict-item]


async def _handle(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ShipwayError)
    return _error(exc)
