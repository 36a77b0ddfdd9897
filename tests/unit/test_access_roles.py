"""A1: every cell of the role table, written out here independently of roles.MINIMUM."""

from __future__ import annotations

import pytest

from shipway.access.roles import (
    ACTIONS,
    ENV_ROLES,
    ENV_TYPES,
    Grant,
    decide,
    parse_roles,
    refusal,
)

# action -> (viewer, contributor, admin) may do it, on any environment type.
EXPECTED = {
    "view": (True, True, True),
    "push": (False, True, True),
    "branch": (False, True, True),
    "merge": (False, True, True),
    "sync": (False, True, True),
    "activate": (False, True, True),
    "redeploy": (False, True, True),
    "rollback": (False, True, True),
    "ssh": (False, True, True),
    "backup": (False, True, True),
    "deactivate": (False, False, True),
    "force-push": (False, False, True),
    "settings": (False, False, True),
    "variables": (False, False, True),
    "restore": (False, False, True),
    "project:admin": (False, False, False),
}
CELLS = [(a, t, r, EXPECTED[a][i]) for a in EXPECTED for t in ENV_TYPES
         for i, r in enumerate(ENV_ROLES)]


def test_a1_the_expected_table_covers_every_action() -> None:
    assert set(EXPECTED) == set(ACTIONS)


@pytest.mark.parametrize(("action", "env_type", "role", "allowed"), CELLS)
def test_a1_environment_type_role_cell(action: str, env_type: str, role: str, allowed: bool) -> None:
    grant = Grant("viewer", {env_type: role})
    assert decide(grant, action, env_type).allowed is allowed
    # a role on one type says nothing about the others
    other = next(t for t in ENV_TYPES if t != env_type)
    assert decide(grant, action, other).allowed is False


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("env_type", [*ENV_TYPES, None])
def test_a1_project_admin_may_do_everything(action: str, env_type: str | None) -> None:
    assert decide(Grant("admin"), action, env_type).allowed


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_a1_no_grant_may_do_nothing(action: str) -> None:
    assert not decide(None, action, "development").allowed


def test_a1_project_level_actions_need_project_admin() -> None:
    grant = Grant("viewer", {t: "admin" for t in ENV_TYPES})
    d = decide(grant, "variables", None)
    assert not d.allowed and d.needed == "project admin"


@pytest.mark.parametrize(("minimum", "role", "allowed"), [
    ("admin", "contributor", False), ("admin", "admin", True),
    ("viewer", "viewer", True), ("contributor", "viewer", False),
])
def test_a1_app_access_ssh_overrides_the_minimum(minimum: str, role: str, allowed: bool) -> None:
    assert decide(Grant("viewer", {"production": role}), "ssh", "production",
                  minimum).allowed is allowed


def test_a1_refusal_is_one_line_naming_user_held_and_needed() -> None:
    grant = Grant("viewer", {"development": "contributor", "production": "viewer"})
    line = refusal("alice@example.com", "push", "to main", decide(grant, "push", "production"))
    assert "\n" not in line
    assert "alice@example.com" in line
    assert "production:viewer" in line and "production:contributor" in line


def test_a1_refusal_without_any_role_on_the_type() -> None:
    d = decide(Grant("viewer", {"development": "contributor"}), "push", "staging")
    assert d.held == "no role on staging environments" and d.needed == "staging:contributor"


@pytest.mark.parametrize(("specs", "project_role", "env_roles"), [
    (["viewer", "development:contributor"], "viewer", {"development": "contributor"}),
    (["admin"], "admin", {}),
    (["Staging:Admin"], "viewer", {"staging": "admin"}),
    (["development:admin", "development:none"], "viewer", {}),
])
def test_a1_parse_roles(specs: list[str], project_role: str, env_roles: dict[str, str]) -> None:
    assert parse_roles(specs) == Grant(project_role, env_roles)


@pytest.mark.parametrize("spec", ["owner", "prod:admin", "development:root", "", "x:y:z"])
def test_a1_parse_roles_refuses_unknown_names(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_roles([spec])


def test_a1_update_keeps_other_type_roles() -> None:
    base = Grant("viewer", {"development": "contributor"})
    assert parse_roles(["staging:viewer"], base).env_roles == {
        "development": "contributor", "staging": "viewer"}


def test_a1_any_user_of_the_project_may_view_it() -> None:
    assert decide(Grant("viewer"), "view", None).allowed
    assert not decide(None, "view", None).allowed
