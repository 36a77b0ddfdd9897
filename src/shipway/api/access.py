"""The access endpoints (A1-A3): users of a project, SSH keys, API tokens.

A thin shell over `Platform.access`; each use case checks the caller itself
(project admin for users; the operator or the key's/token's own user for keys
and tokens). None of them deploys anything (A5)."""

from __future__ import annotations

import base64
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipway.api import guard
from shipway.errors import UsageError


def _access(request: Request) -> Any:
    return request.app.state.platform.access


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = await request.json() if raw else {}
    if not isinstance(data, dict):
        raise UsageError("the request body must be a JSON object")
    return data


def _roles(body: dict[str, Any]) -> list[str]:
    roles = body.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise UsageError("roles is a list of strings such as 'viewer', 'development:contributor'")
    return roles


async def user_add(request: Request) -> Response:
    body = await _body(request)
    member = await run_in_threadpool(_access(request).add_user, request.state.actor,
                                     request.path_params["project"], str(body.get("email", "")),
                                     _roles(body))
    return JSONResponse(member.as_json(), status_code=201)


async def user_list(request: Request) -> Response:
    found = await run_in_threadpool(_access(request).list_users, request.state.actor,
                                    request.path_params["project"])
    return JSONResponse([m.as_json() for m in found])


async def user_get(request: Request) -> Response:
    p, email = request.path_params["project"], request.path_params["email"]
    member = await run_in_threadpool(_access(request).get_user, request.state.actor, p, email)
    return JSONResponse(member.as_json())


async def user_update(request: Request) -> Response:
    p, email = request.path_params["project"], request.path_params["email"]
    roles = _roles(await _body(request))
    member = await run_in_threadpool(_access(request).update_user, request.state.actor, p, email,
                                     roles)
    return JSONResponse(member.as_json())


async def user_delete(request: Request) -> Response:
    p, email = request.path_params["project"], request.path_params["email"]
    return JSONResponse(await run_in_threadpool(_access(request).delete_user, request.state.actor,
                                                p, email))


async def key_add(request: Request) -> Response:
    body = await _body(request)
    try:
        data = base64.b64decode(str(body.get("key_base64", "")), validate=True)
    except ValueError:
        raise UsageError("key_base64 is not base64") from None
    key = await run_in_threadpool(_access(request).add_key, request.state.actor,
                                  str(body.get("user", "")), data)
    return JSONResponse(key.as_json(), status_code=201)


async def key_list(request: Request) -> Response:
    found = await run_in_threadpool(_access(request).list_keys, request.state.actor,
                                    request.query_params.get("user"))
    return JSONResponse([k.as_json() for k in found])


async def key_delete(request: Request) -> Response:
    await run_in_threadpool(_access(request).delete_key, request.state.actor,
                            request.path_params["id"])
    return JSONResponse({"message": f"SSH key {request.path_params['id']} deleted"})


async def token_create(request: Request) -> Response:
    body = await _body(request)
    token, record = await run_in_threadpool(_access(request).create_token, request.state.actor,
                                            str(body.get("user", "")), str(body.get("name", "")))
    return JSONResponse({**record.as_json(), "token": token}, status_code=201,
                        headers={"Cache-Control": "no-store"})


async def token_list(request: Request) -> Response:
    found = await run_in_threadpool(_access(request).list_tokens, request.state.actor)
    return JSONResponse([t.as_json() for t in found])


async def token_delete(request: Request) -> Response:
    await run_in_threadpool(_access(request).delete_token, request.state.actor,
                            request.path_params["id"])
    return JSONResponse({"message": f"API token {request.path_params['id']} revoked"})


async def whoami(request: Request) -> Response:
    actor = request.state.actor
    out: dict[str, Any] = {"kind": actor.kind, "email": actor.email, "label": actor.label}
    if guard.BENCH and actor.is_operator:
        out["auth_timings"] = guard.bench_summary()
    return JSONResponse(out)


async def api_info(request: Request) -> Response:
    """`shipway url --api`: the HTTPS base URL and the CA file clients trust (A3)."""
    return JSONResponse(getattr(request.app.state, "api_info", {}) or {})


ROUTES = [
    Route("/whoami", whoami, methods=["GET"]),
    Route("/api-info", api_info, methods=["GET"]),
    Route("/projects/{project}/users", user_add, methods=["POST"]),
    Route("/projects/{project}/users", user_list, methods=["GET"]),
    Route("/projects/{project}/users/{email}", user_get, methods=["GET"]),
    Route("/projects/{project}/users/{email}", user_update, methods=["PATCH"]),
    Route("/projects/{project}/users/{email}", user_delete, methods=["DELETE"]),
    Route("/ssh-keys", key_add, methods=["POST"]),
    Route("/ssh-keys", key_list, methods=["GET"]),
    Route("/ssh-keys/{id}", key_delete, methods=["DELETE"]),
    Route("/api-tokens", token_create, methods=["POST"]),
    Route("/api-tokens", token_list, methods=["GET"]),
    Route("/api-tokens/{id}", token_delete, methods=["DELETE"]),
]
