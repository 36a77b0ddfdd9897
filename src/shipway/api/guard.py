"""Authentication and authorisation of every API request (A1, A3), in one wrapper.

Who: on the unix socket (root-only: its directory is 0700) the caller is the
operator, or, with `X-Shipway-Actor: <user_id>`, that user — the root-run git
hook and SSH gateway say whom they act for. Over TCP only a bearer token
decides, and X-Shipway-Actor is refused. What: the route's rule (authz.py)
names the action and where its environment comes from; `Access.require`
decides. A refused request changes nothing: the endpoint never runs.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shipway.access.context import acting_as
from shipway.access.model import OPERATOR, Actor
from shipway.api.authz import Rule, rule_for
from shipway.errors import Forbidden, NotFound, PlatformError, Unauthorized

ACTOR_HEADER = "x-shipway-actor"
Endpoint = Callable[[Request], Awaitable[Response]]
# bench/api_tokens.py: the guard's own time per request, kept only when asked for.
BENCH = os.environ.get("SHIPWAY_BENCH_AUTH") == "1"
TIMINGS: list[float] = []


def guarded(route: Route, remote: bool) -> Route:
    """The same route, its endpoint behind the guard; a route without a rule is a bug."""
    methods = sorted((route.methods or {"GET"}) - {"HEAD"})
    for method in methods:
        if rule_for(method, route.path, {"action": "activate"}) is None:
            raise PlatformError(f"API route {method} {route.path} has no rule in api/authz.py")
    endpoint: Endpoint = route.endpoint  # type: ignore[assignment]

    async def guard(request: Request) -> Response:
        started = time.perf_counter()
        actor = authenticate(request, remote)
        rule = rule_for(request.method if request.method != "HEAD" else "GET", route.path,
                        request.path_params)
        if rule is None:
            raise Forbidden(f"no such action {request.path_params.get('action')!r}")
        await authorize(request, actor, rule, remote)
        if BENCH:
            TIMINGS.append(time.perf_counter() - started)
        request.state.actor = actor
        with acting_as(actor):
            return await endpoint(request)

    return Route(route.path, guard, methods=methods, name=route.name)


def authenticate(request: Request, remote: bool) -> Actor:
    access = request.app.state.platform.access
    claimed = request.headers.get(ACTOR_HEADER)
    if not remote:
        if claimed is None:
            return OPERATOR
        actor: Actor | None = access.actor_by_id(claimed)
        if actor is None:
            raise Unauthorized("X-Shipway-Actor names no user (removed?)")
        return actor
    if claimed is not None:
        raise Unauthorized("X-Shipway-Actor is honoured only on the local unix socket")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("this API needs a token: send `Authorization: Bearer TOKEN` "
                           "(the operator creates one with `shipway api-token:create`)")
    actor = access.actor_for_token(token.strip())
    if actor is None:
        raise Unauthorized("the API token is not valid (revoked, or its user was removed)")
    return actor


async def authorize(request: Request, actor: Actor, rule: Rule, remote: bool = False) -> None:
    if rule.scope == "hook" and remote:
        # The push endpoint takes ref updates git has already received: only the git hook,
        # on this machine, may claim them. Over the network, code arrives by git over SSH.
        raise Forbidden("pushes arrive by git (over SSH), not through the HTTPS API")
    if rule.scope in ("any", "use-case", "hook"):
        return
    if rule.scope == "operator":
        if not actor.is_operator:
            raise Forbidden(f"{actor.label} may not do this: only the operator (root on the "
                            "server) may")
        return
    platform = request.app.state.platform
    params = request.path_params
    project = params.get("project")
    if project is not None:  # an outsider is refused before any of the project is looked up
        platform.access.require(actor, "view", project)
    env, env_type = await _where(request, platform, rule)
    if project is None:  # /activities/{id}
        activity = platform.activity(params["id"])
        project, env = activity.project, activity.environment
    assert rule.action is not None
    platform.access.require(actor, rule.action, project, env, env_type=env_type)
    # E2: a new branch, an activation and a sync clone the parent's data (and inherit its
    # variables) into an environment the user may ssh into: that reads the parent, so it
    # needs `branch` there too, not just a view of it.
    if rule.scope == "new-branch":
        platform.access.require(actor, "branch", project, params["env"])
    elif rule.action in ("activate", "sync") and env:
        parent = platform.environment(project, env).parent
        if parent:
            platform.access.require(actor, "branch", project, parent)
    elif rule.scope == "backup-target":  # another environment's backup: its data is read
        backup = await run_in_threadpool(platform.backups.get, project, params["id"])
        if backup.get("environment") != env:
            platform.access.require(actor, "branch", project, backup.get("environment"),
                                    env_type=backup.get("environment_type"))


async def _where(request: Request, platform: Any, rule: Rule) -> tuple[str | None, str | None]:
    """-> (environment, type of a not yet existing one) the rule's scope points at."""
    params = request.path_params
    if rule.scope == "env":
        return params["env"], None
    if rule.scope == "parent":
        return platform.environment(params["project"], params["env"]).parent or params["env"], None
    if rule.scope == "new-branch":
        body = await _body(request)
        return str(body.get("name", "")), str(body.get("type") or "development")
    if rule.scope == "body-env":
        return await _body_env(request, platform)
    if rule.scope == "backup-target":
        body = await _body(request)
        if body.get("target"):
            return str(body["target"]), None
        backup = await run_in_threadpool(platform.backups.get, params["project"], params["id"])
        return backup.get("environment"), None
    return None, None


async def _body_env(request: Request, platform: Any) -> tuple[str | None, None]:
    """The environment a variable change acts on: without `level`, an update or delete falls
    back to the project's variable when the environment has none of that name (A1)."""
    if request.method not in ("PUT", "DELETE"):
        return request.query_params.get("environment"), None
    body = await _body(request)
    env = body.get("environment") or None
    if body.get("level") == "project" or not env:
        return None, None
    # A PUT with a level (or a create) acts at that level; a DELETE always looks the name up.
    if request.method == "PUT" and (body.get("level") or body.get("create")):
        return str(env), None
    try:
        found = await run_in_threadpool(platform.variables.find, request.path_params["project"],
                                        str(env), str(body.get("name", "")))
    except NotFound:
        return str(env), None  # nothing to change: the endpoint says so, after the env's check
    return found.environment or None, None


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()  # cached on the request: the endpoint reads it again
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def bench_summary() -> dict[str, Any]:
    return {"count": len(TIMINGS),
            "median_ms": statistics.median(TIMINGS) * 1000 if TIMINGS else None}
