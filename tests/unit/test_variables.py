"""E3: which variables an environment sees, and the rules on names and flags."""

from pathlib import Path

import pytest

from shipway.environments.variables import Variable, Variables, build_visible, runtime_visible, updated
from shipway.errors import UsageError
from shipway.state.store import Store


@pytest.fixture
def variables(tmp_path: Path) -> Variables:
    found = Variables(Store(tmp_path / "state.db"))
    for var in (
        Variable("p", "", "env:A", "project"),
        Variable("p", "main", "env:A", "main", is_inheritable=True),
        Variable("p", "main", "env:B", "main-only", is_inheritable=False),
        Variable("p", "main", "env:BUILD", "b", visible_build=True, visible_runtime=False),
        Variable("p", "dev", "env:C", "dev"),
        Variable("p", "dev", "env:OFF", "x", is_enabled=False),
    ):
        found.put(var, create=True)
    return found


def names(found: list[Variable]) -> dict[str, str]:
    return {v.name: v.value for v in found}


def test_environment_overrides_project(variables: Variables) -> None:
    assert names(variables.effective("p", ["main"])) == {
        "env:A": "main", "env:B": "main-only", "env:BUILD": "b"}


def test_child_inherits_only_inheritable_and_skips_disabled(variables: Variables) -> None:
    assert names(variables.effective("p", ["dev", "main"])) == {
        "env:A": "main", "env:BUILD": "b", "env:C": "dev"}


def test_visibility_splits_build_and_runtime(variables: Variables) -> None:
    seen = variables.effective("p", ["main"])
    assert build_visible(seen) == {"env:BUILD": "b"}
    assert "env:BUILD" not in runtime_visible(seen)


@pytest.mark.parametrize("name", ["env:1BAD", "env:has-dash", "with space", ""])
def test_bad_names_are_refused(variables: Variables, name: str) -> None:
    with pytest.raises(UsageError):
        variables.put(Variable("p", "", name, "v"), create=True)


def test_json_values_must_parse(variables: Variables) -> None:
    with pytest.raises(UsageError, match="not valid JSON"):
        variables.put(Variable("p", "", "x:y", "{nope", is_json=True), create=True)


def test_create_twice_and_unsensitive_are_refused(variables: Variables) -> None:
    with pytest.raises(UsageError, match="already exists"):
        variables.put(Variable("p", "", "env:A", "again"), create=True)
    secret = Variable("p", "", "env:S", "v", is_sensitive=True)
    with pytest.raises(UsageError, match="cannot be undone"):
        updated(secret, is_sensitive=False)
