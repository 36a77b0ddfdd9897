"""A1/A3: every API route has an authorisation rule; a route without one cannot be served."""

from __future__ import annotations

import inspect

import pytest
from starlette.responses import JSONResponse
from starlette.routing import Route

from shipway.access.roles import ACTIONS
from shipway.api import server
from shipway.api.authz import ENV_ACTIONS, RULES, rule_for
from shipway.api.guard import guarded
from shipway.errors import PlatformError

ROUTE_METHODS = [(m, r.path) for r in server.ROUTES for m in sorted((r.methods or {"GET"}) - {"HEAD"})]


@pytest.mark.parametrize(("method", "path"), ROUTE_METHODS)
def test_a1_every_route_has_a_rule(method: str, path: str) -> None:
    assert rule_for(method, path, {"action": "activate"}) is not None, f"{method} {path}"


def test_a1_no_rule_without_a_route() -> None:
    assert set(RULES) == set(ROUTE_METHODS)


def test_a1_rules_name_known_actions() -> None:
    for rule in [*RULES.values(), *ENV_ACTIONS.values()]:
        assert rule.action is None or rule.action in ACTIONS


def test_a1_every_environment_action_has_a_rule() -> None:
    source = inspect.getsource(server.environment_action)
    handled = {a for a in ("activate", "deactivate", "branch", "merge", "synchronize", "set")
               if f'"{a}"' in source}
    assert handled == set(ENV_ACTIONS)
    assert rule_for("POST", "/projects/{project}/environments/{env}/{action}",
                    {"action": "format-disk"}) is None


async def _endpoint(request: object) -> JSONResponse:
    return JSONResponse({})


def test_a1_a_route_without_a_rule_is_refused_when_the_app_is_built() -> None:
    with pytest.raises(PlatformError, match="no rule"):
        guarded(Route("/projects/{project}/shiny-new", _endpoint, methods=["POST"]), remote=True)


@pytest.mark.parametrize(("method", "path", "action"), [
    ("POST", "/projects/{project}/environments/{env}/redeploy", "redeploy"),
    ("GET", "/projects/{project}/environments", "view"),
    ("PUT", "/projects/{project}/variables", "variables"),
    ("POST", "/projects", None),
])
def test_a1_some_rules_spelled_out(method: str, path: str, action: str | None) -> None:
    rule = rule_for(method, path, {})
    assert rule is not None and rule.action == action
