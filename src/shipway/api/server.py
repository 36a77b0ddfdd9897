"""The control plane's HTTP API: a thin shell over `Platform`.

Long answers (a push's log, `activity:log --follow`) are newline-delimited
JSON streamed as the activity's log file grows: `{"log": line}` objects, then
one `{"result": ...}` per activity when it completes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from shipway.api import access as access_api
from shipway.api import backups as backup_api
from shipway.api import console as console_api
from shipway.api import domains as domain_api
from shipway.api.guard import guarded
from shipway.errors import Forbidden, NotFound, ShipwayError, Unauthorized, UsageError, UserError
from shipway.platform import Platform

POLL_SECONDS = 0.05


def _error(exc: ShipwayError) -> JSONResponse:
    kind, status = "platform", 500
    if isinstance(exc, NotFound):
        kind, status = "not_found", 404
    elif isinstance(exc, Forbidden):
        kind, status = "forbidden", 403
    elif isinstance(exc, Unauthorized):
        kind, status = "unauthorized", 401
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
    yield _ndjson({"activity": activity_id, "result": activity.result, "state": activity.state,
                   "deployed": bool(activity.details.get("deployed"))})


def _ndjson(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def _call(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """Platform calls touch git, files and SQLite: keep them off the event loop."""
    return await run_in_threadpool(fn, *args)


async def project_create(request: Request) -> Response:
    body = await request.json()
    data = await _call(request, _platform(request).create_project, str(body.get("name", "")))
    return JSONResponse(data, status_code=201)


async def project_list(request: Request) -> Response:
    platform = _platform(request)
    projects = await _call(request, platform.registry.projects)
    actor = request.state.actor  # a user sees the projects they are a user of
    mine = [p for p in projects if platform.access.may(actor, "view", p.name)]
    return JSONResponse([{"name": p.name, "id": p.id} for p in mine])


async def push(request: Request) -> Response:
    platform = _platform(request)
    body = await request.json()
    ids = await _call(request, platform.accept_push, request.path_params["project"],
                      body.get("updates", []), body.get("git_env", {}), body.get("push_options", []),
                      request.state.actor)

    def stream() -> Iterator[bytes]:
        for activity_id in ids:
            yield from follow_log(platform, activity_id)

    return StreamingResponse(stream(), media_type="application/x-ndjson")


async def environment_list(request: Request) -> Response:
    platform, project = _platform(request), request.path_params["project"]
    envs = await _call(request, platform.environments, project)
    # A1: a user sees the environments of the types they have a role on, as on Platform.sh.
    mine = [e for e in envs if platform.access.may(request.state.actor, "view", project, e.name)]
    return JSONResponse([e.as_json() for e in mine])


async def environment_info(request: Request) -> Response:
    p, e = request.path_params["project"], request.path_params["env"]
    return JSONResponse((await _call(request, _platform(request).environment, p, e)).as_json())


async def url(request: Request) -> Response:
    p, e = request.path_params["project"], request.path_params["env"]
    return JSONResponse(await _call(request, _platform(request).url, p, e))


async def releases(request: Request) -> Response:
    p, e = request.path_params["project"], request.path_params["env"]
    found = await _call(request, _platform(request).release_list, p, e)
    current = _platform(request).environment(p, e).current_release
    # S6: which release runs, as the platform recorded it.
    return JSONResponse([{**r.as_json(), "current": r.number == current} for r in found])


async def activity_list(request: Request) -> Response:
    project = request.path_params["project"]
    env = request.query_params.get("environment")
    platform = _platform(request)
    found = await _call(request, platform.activity_list, project, env)
    actor = request.state.actor
    return JSONResponse([a.as_json() for a in found
                         if platform.access.may(actor, "view", project, a.environment)])


async def activity_get(request: Request) -> Response:
    found = await _call(request, _platform(request).activity, request.path_params["id"])
    return JSONResponse(found.as_json())


async def activity_log(request: Request) -> Response:
    platform = _platform(request)
    activity_id = request.path_params["id"]
    await _call(request, platform.activity, activity_id)
    follow = request.query_params.get("follow") == "1"
    return StreamingResponse(follow_log(platform, activity_id, follow),
                             media_type="application/x-ndjson")


async def redeploy(request: Request) -> Response:
    p, e = request.path_params["project"], request.path_params["env"]
    return JSONResponse({"activity": await _call(request, _platform(request).redeploy, p, e)})


async def rollback(request: Request) -> Response:
    p, e = request.path_params["project"], request.path_params["env"]
    body = await request.json()
    activity = await _call(request, _platform(request).rollback, p, e, body.get("release"),
                           bool(body.get("with_data")))
    return JSONResponse({"activity": activity})


async def variable_list(request: Request) -> Response:
    p = request.path_params["project"]
    env = request.query_params.get("environment")
    found = await _call(request, _platform(request).variable_list, p, env)
    return JSONResponse([v.as_json() for v in found])


async def variable_put(request: Request) -> Response:
    body = await request.json()
    platform = _platform(request)
    out = await _call(request, platform.put_variable, request.path_params["project"], body)
    return JSONResponse(out)


async def variable_delete(request: Request) -> Response:
    body = await request.json()
    out = await _call(request, _platform(request).delete_variable, request.path_params["project"],
                      body.get("environment"), body["name"])
    return JSONResponse(out)


async def log_text(request: Request) -> Response:
    p, e = request.path_params["project"], request.path_params["env"]
    q = request.query_params
    text = await _call(request, _platform(request).log_text, p, e, request.path_params["kind"],
                       q.get("app"), int(q.get("lines", "100")))
    return PlainTextResponse(text)


async def activity_cancel(request: Request) -> Response:
    return JSONResponse(await _call(request, _platform(request).cancel_activity,
                                    request.path_params["id"]))


async def environment_action(request: Request) -> Response:
    p, e = request.path_params["project"], request.path_params["env"]
    body = await request.json()
    platform = _platform(request)
    action = request.path_params["action"]
    if action == "activate":
        out = await _call(request, platform.activate, p, e)
    elif action == "deactivate":
        out = await _call(request, platform.deactivate, p, e)
    elif action == "branch":
        out = await _call(request, platform.branch, p, body["name"], e, body.get("type"))
    elif action == "merge":
        out = await _call(request, platform.merge, p, e)
    elif action == "synchronize":
        out = await _call(request, platform.synchronize_data, p, e)
    elif action == "set":
        out = await _call(request, platform.set_environment_property, p, e, body["property"],
                          body["value"])
    else:
        return JSONResponse({"error": f"unknown action {action!r}", "kind": "usage"}, status_code=404)
    return JSONResponse(out)


async def project_info(request: Request) -> Response:
    body = await request.json() if request.method == "POST" else {}
    return JSONResponse(await _call(request, _platform(request).project_info,
                                    request.path_params["project"], body.get("property"),
                                    body.get("value")))


async def runtime_list(request: Request) -> Response:
    return JSONResponse(await _call(request, _platform(request).runtimes))


ROUTES = [
    Route("/projects", project_create, methods=["POST"]),
    Route("/projects", project_list, methods=["GET"]),
    Route("/projects/{project}/push", push, methods=["POST"]),
    Route("/projects/{project}", project_info, methods=["GET", "POST"]),
    Route("/runtimes", runtime_list),
    Route("/projects/{project}/environments", environment_list),
    Route("/projects/{project}/environments/{env}", environment_info),
    Route("/projects/{project}/environments/{env}/url", url),
    Route("/projects/{project}/environments/{env}/releases", releases),
    Route("/projects/{project}/environments/{env}/redeploy", redeploy, methods=["POST"]),
    Route("/projects/{project}/environments/{env}/rollback", rollback, methods=["POST"]),
    Route("/projects/{project}/variables", variable_list, methods=["GET"]),
    Route("/projects/{project}/variables", variable_put, methods=["PUT"]),
    Route("/projects/{project}/variables", variable_delete, methods=["DELETE"]),
    Route("/projects/{project}/environments/{env}/logs/{kind}", log_text),
    Route("/projects/{project}/activities", activity_list),
    Route("/activities/{id}", activity_get),
    Route("/activities/{id}/log", activity_log),
    Route("/activities/{id}/cancel", activity_cancel, methods=["POST"]),
    *access_api.ROUTES,
    *domain_api.ROUTES,
    *console_api.ROUTES,
    *backup_api.ROUTES,  # before the catch-all `{action}` route below
    Route("/projects/{project}/environments/{env}/{action}", environment_action, methods=["POST"]),
]


def create_app(platform: Platform, remote: bool = False) -> Starlette:
    """The API; `remote`: served over TCP, where only a bearer token says who calls (A3)."""
    routes = [guarded(route, remote) for route in ROUTES]  # every route, no exception (A1)
    app = Starlette(routes=routes, exception_handlers={ShipwayError: _handle})
    app.state.platform = platform
    return app


async def _handle(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ShipwayError)
    return _error(exc)
