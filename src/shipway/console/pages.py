"""The console's pages and actions (W2): each one API call (or a few) as the signed-in user.

GET handlers render; POST handlers act and redirect (post/redirect/get), so a
reload never repeats an action. Which buttons to draw is asked of the same
role table (`Access.may`); what may happen is decided by the API call.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from shipway.access.model import Actor
from shipway.console import views
from shipway.console.web import api, platform, render
from shipway.errors import Forbidden, NotFound, UsageError, UserError

LOG_KINDS = ("app", "deploy", "post-deploy", "access")
STREAM_POLL = 0.1


async def _get(request: Request, path: str, **params: str) -> Any:
    return await api(request).call(_uid(request), "GET", path, params=params or None)


async def _post(request: Request, method: str, path: str, body: Any) -> Any:
    return await api(request).call(_uid(request), method, path, body)


def _uid(request: Request) -> str:
    actor: Actor = request.state.actor
    return actor.user_id or ""


def _p(request: Request) -> str:
    return str(request.path_params["project"])


def _q(name: str) -> str:
    return quote(name, safe="")


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _form(request: Request, name: str) -> str:
    return str(request.state.form.get(name) or "")


def _allowed(request: Request, project: str, env: dict[str, Any]) -> set[str]:
    access, actor = platform(request).access, request.state.actor
    allowed = set()
    for action in set(views.NEEDS.values()) - {"branch"}:
        where = env.get("parent") if action == "merge" else env["name"]
        if where and access.may(actor, action, project, where):
            allowed.add(action)
    try:
        access.require(actor, "branch", project, None, env_type="development")
        allowed.add("branch")
    except Forbidden:
        pass
    return allowed


# -- pages -----------------------------------------------------------------------


async def projects(request: Request) -> Response:
    return render(request, "projects.html", projects=await _get(request, "/projects"))


async def project(request: Request) -> Response:
    name = _p(request)
    envs = await _get(request, f"/projects/{_q(name)}/environments")
    activities = await _get(request, f"/projects/{_q(name)}/activities")
    rows = views.tree(envs, activities)
    allowed = {row.env["name"]: _allowed(request, name, row.env) for row in rows}
    admin = platform(request).access.may(request.state.actor, "project:admin", name)
    deployed = [e["name"] for e in envs if e.get("status") == "active" and e.get("current_release")]
    found = await asyncio.gather(*[_primary_url(request, name, env) for env in deployed])
    return render(request, "project.html", project=name, rows=rows, allowed=allowed,
                  buttons=views.buttons, activities=activities[:15], admin=admin,
                  urls=dict(zip(deployed, found, strict=True)))


async def _primary_url(request: Request, project: str, env: str) -> str | None:
    try:
        urls = await _get(request, f"/projects/{_q(project)}/environments/{_q(env)}/url")
    except UserError:  # not deployed yet
        return None
    return str(urls[0]["url"]) if urls else None


async def feed(request: Request) -> Response:
    name = _p(request)
    activities = await _get(request, f"/projects/{_q(name)}/activities")
    return render(request, "_feed.html", project=name, activities=activities[:15])


async def environment(request: Request) -> Response:
    name, env = _p(request), str(request.path_params["env"])
    base = f"/projects/{_q(name)}/environments/{_q(env)}"
    info = await _get(request, base)
    releases = await _get(request, base + "/releases")
    try:
        urls = await _get(request, base + "/url")
    except UserError:  # not deployed yet: the page still shows its releases (none) and logs
        urls = []
    may_rollback = platform(request).access.may(request.state.actor, "rollback", name, env)
    return render(request, "environment.html", project=name, env=info, releases=releases,
                  urls=urls, may_rollback=may_rollback, kinds=LOG_KINDS)


async def activity(request: Request) -> Response:
    found = await _get(request, f"/activities/{_q(request.path_params['id'])}")
    if found["project"] != _p(request):
        raise NotFound("no such activity in this project")
    log = await _get(request, f"/activities/{_q(found['id'])}/log")
    lines = [json.loads(line).get("log") for line in log.splitlines() if line.strip()]
    return render(request, "activity.html", project=_p(request), activity=found,
                  lines=[line for line in lines if line is not None],
                  bars=views.timeline(found.get("details") or {}))


async def activity_stream(request: Request) -> Response:
    """Server-sent events of the activity's log, read as `activity:log --follow` reads it.

    The API's /activities/{id} call checks the role first; then the same log file
    follow_log reads is tailed here, so the stream needs no per-line API round trip."""
    found = await _get(request, f"/activities/{_q(request.path_params['id'])}")
    given = request.query_params.get("from", "0")
    skip = int(given) if given.isdigit() and len(given) < 9 else 0
    the_platform = platform(request)
    return StreamingResponse(_sse(the_platform, found["id"], skip), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


async def _sse(the_platform: Any, activity_id: str, skip: int) -> AsyncIterator[bytes]:
    path = the_platform.activities.log_path(activity_id)
    seen, pending = 0, b""
    with path.open("rb") as f:
        while True:
            done = (await run_in_threadpool(the_platform.activity, activity_id)).state == "complete"
            chunk = f.read()
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if done and pending:
                lines, pending = [*lines, pending], b""
            for line in lines:
                seen += 1
                if seen > skip:
                    yield _event("line", line.decode("utf-8", "replace"))
            if done:
                break
            if not chunk:
                await asyncio.sleep(STREAM_POLL)
    final = await run_in_threadpool(the_platform.activity, activity_id)
    yield _event("done", json.dumps({"state": final.state, "result": final.result}))


def _event(kind: str, data: str) -> bytes:
    body = "".join(f"data: {part}\n" for part in data.split("\r"))
    return f"event: {kind}\n{body}\n".encode()


async def logs(request: Request) -> Response:
    name, env, kind = _p(request), str(request.path_params["env"]), str(request.path_params["kind"])
    if kind not in LOG_KINDS:
        raise NotFound(f"no log {kind!r}; the logs are {', '.join(LOG_KINDS)}")
    text = await _get(request, f"/projects/{_q(name)}/environments/{_q(env)}/logs/{kind}",
                      lines="200")
    template = "_log.html" if request.query_params.get("part") == "1" else "logs.html"
    return render(request, template, project=name, env=env, kind=kind, text=text,
                  follow=request.query_params.get("follow") == "1", kinds=LOG_KINDS)


async def variables(request: Request) -> Response:
    name = _p(request)
    env = request.query_params.get("environment") or None
    params = {"environment": env} if env else {}
    found = await _get(request, f"/projects/{_q(name)}/variables", **params)
    envs = await _get(request, f"/projects/{_q(name)}/environments")
    may = platform(request).access.may(request.state.actor, "variables", name, env)
    # W2: a sensitive value never reaches the browser; the API already sends none, and
    # the template gets a copy without the key at all, so no later change can show it.
    shown = [{k: v for k, v in var.items() if not (k == "value" and var.get("is_sensitive"))}
             for var in found]
    return render(request, "variables.html", project=name, variables=shown, env=env, envs=envs,
                  may=may)


async def users(request: Request) -> Response:
    name = _p(request)
    members = await _get(request, f"/projects/{_q(name)}/users")
    admin = platform(request).access.may(request.state.actor, "project:admin", name)
    return render(request, "users.html", project=name, members=members, admin=admin)


async def me(request: Request) -> Response:
    keys = await _get(request, "/ssh-keys")
    tokens = await _get(request, "/api-tokens")
    return render(request, "me.html", keys=keys, tokens=tokens, new_token=None)


async def backups(request: Request) -> Response:
    name = _p(request)
    found = await _get(request, f"/projects/{_q(name)}/backups")
    return render(request, "backups.html", project=name, backups=found)


# -- actions -----------------------------------------------------------------------


def _activity_page(project: str, out: Any, fallback: str) -> RedirectResponse:
    activity_id = out.get("activity") if isinstance(out, dict) else None
    if isinstance(activity_id, str):
        return _back(f"/console/p/{_q(project)}/a/{_q(activity_id)}")
    return _back(fallback)


async def env_action(request: Request) -> Response:
    name, env, what = _p(request), str(request.path_params["env"]), str(request.path_params["action"])
    base = f"/projects/{_q(name)}/environments/{_q(env)}"
    if what not in views.ENV_ACTIONS:
        raise UsageError(f"no action {what!r}")
    out = await _post(request, "POST", f"{base}/{what}", {})
    return _activity_page(name, out, f"/console/p/{_q(name)}")


async def branch(request: Request) -> Response:
    name, env = _p(request), str(request.path_params["env"])
    body = {"name": _form(request, "name"), "type": _form(request, "type") or None}
    out = await _post(request, "POST", f"/projects/{_q(name)}/environments/{_q(env)}/branch", body)
    return _activity_page(name, out, f"/console/p/{_q(name)}")


async def rollback(request: Request) -> Response:
    name, env = _p(request), str(request.path_params["env"])
    body = {"release": _form(request, "release") or None, "with_data": _form(request, "with_data") == "1"}
    out = await _post(request, "POST", f"/projects/{_q(name)}/environments/{_q(env)}/rollback", body)
    return _activity_page(name, out, f"/console/p/{_q(name)}/e/{_q(env)}")


async def variable_set(request: Request) -> Response:
    name, env = _p(request), _form(request, "environment") or None
    body = {"name": _form(request, "name"), "value": _form(request, "value"), "create": True,
            "environment": env, "level": "environment" if env else "project",
            "is_sensitive": _form(request, "is_sensitive") == "1"}
    if _form(request, "update") == "1":
        body["create"] = False
    out = await _post(request, "PUT", f"/projects/{_q(name)}/variables", body)
    suffix = f"?environment={_q(env)}" if env else ""
    return _activity_page(name, out, f"/console/p/{_q(name)}/variables{suffix}")


async def variable_delete(request: Request) -> Response:
    name, env = _p(request), _form(request, "environment") or None
    body = {"name": _form(request, "name"), "environment": env,
            "level": "environment" if env else "project"}
    out = await _post(request, "DELETE", f"/projects/{_q(name)}/variables", body)
    return _activity_page(name, out, f"/console/p/{_q(name)}/variables")


async def user_add(request: Request) -> Response:
    name = _p(request)
    roles = [r for r in _form(request, "roles").replace(",", " ").split() if r]
    await _post(request, "POST", f"/projects/{_q(name)}/users",
                {"email": _form(request, "email"), "roles": roles})
    return _back(f"/console/p/{_q(name)}/users")


async def user_delete(request: Request) -> Response:
    name = _p(request)
    await _post(request, "DELETE", f"/projects/{_q(name)}/users/{_q(_form(request, 'email'))}", None)
    return _back(f"/console/p/{_q(name)}/users")


async def token_create(request: Request) -> Response:
    actor: Actor = request.state.actor
    out = await _post(request, "POST", "/api-tokens", {"user": actor.label, "name": _form(request, "name")})
    keys = await _get(request, "/ssh-keys")
    tokens = await _get(request, "/api-tokens")
    # The token is shown this once, as by `api-token:create`; it is stored only hashed.
    return render(request, "me.html", keys=keys, tokens=tokens, new_token=out.get("token"))


async def token_delete(request: Request) -> Response:
    await _post(request, "DELETE", f"/api-tokens/{_q(_form(request, 'id'))}", None)
    return _back("/console/me")


async def key_add(request: Request) -> Response:
    actor: Actor = request.state.actor
    data = base64.b64encode(_form(request, "key").encode()).decode()
    await _post(request, "POST", "/ssh-keys", {"user": actor.label, "key_base64": data})
    return _back("/console/me")


async def key_delete(request: Request) -> Response:
    await _post(request, "DELETE", f"/ssh-keys/{_q(_form(request, 'id'))}", None)
    return _back("/console/me")


P = "/p/{project}"
E = P + "/e/{env}"
GETS = [
    ("/", projects), (P, project), (P + "/feed", feed), (E, environment),
    (P + "/a/{id}", activity), ("/a/{id}/stream", activity_stream), (E + "/logs/{kind}", logs),
    (P + "/variables", variables), (P + "/users", users), ("/me", me), (P + "/backups", backups),
]
POSTS = [
    (E + "/do/{action}", env_action), (E + "/branch", branch), (E + "/rollback", rollback),
    (P + "/variables", variable_set), (P + "/variables/delete", variable_delete),
    (P + "/users", user_add), (P + "/users/delete", user_delete), ("/me/tokens", token_create),
    ("/me/tokens/delete", token_delete), ("/me/keys", key_add), ("/me/keys/delete", key_delete),
]
