"""S5: environment slots are reused, and never reach another range of uids."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shipway.environments import slots
from shipway.environments.registry import Registry
from shipway.environments.slots import NoFreeSlot, lowest_free_slot
from shipway.errors import NotFound, PlatformError, UserError
from shipway.settings import load_settings
from shipway.state.store import Store


@pytest.mark.parametrize(
    ("taken", "limit", "slot"),
    [
        ([], 400, 0),
        ([0], 400, 1),
        ([1, 2], 400, 0),  # slot 0 was freed: reused before anything higher
        ([0, 1, 3, 4], 400, 2),
        ([0, None, 1], 400, 2),  # inactive environments hold none
        ([5, 3, 0, 1, 2], 400, 4),
        (list(range(399)), 400, 399),
        ([0, 2], 3, 1),
    ],
)
def test_lowest_free_slot(taken: list[int | None], limit: int, slot: int) -> None:
    assert lowest_free_slot(taken, limit) == slot


@pytest.mark.parametrize(("taken", "limit"), [(range(400), 400), ([0, 1], 2), ([], 0)])
def test_a_full_instance_refuses_and_says_what_to_do(taken: range, limit: int) -> None:
    with pytest.raises(NoFreeSlot, match="environment:deactivate") as refused:
        lowest_free_slot(taken, limit)
    assert f"already runs {limit} environments" in str(refused.value)


def test_no_two_slots_share_a_uid_and_none_reaches_the_group_or_router() -> None:
    s = load_settings({"SHIPWAY_HOME": "/srv/x", "SHIPWAY_UID_BASE": "300000"})
    uids = [s.app_uid(n) for n in range(slots.MAX_SLOTS)]
    uids += [s.service_uid(n) for n in range(slots.MAX_SLOTS)]
    low, high = s.build_uids
    uids += range(low, high + 1)
    assert len(set(uids)) == len(uids) == 100 + 2 * slots.MAX_SLOTS
    assert {s.apps_gid, s.router_uid}.isdisjoint(uids)
    assert max(uids) < 300_000 + slots.UIDS_PER_INSTANCE
    assert s.service_uid(0) == 300_500 and s.app_uid(399) == 300_499


@pytest.mark.parametrize("slot", [None, -1, 400, 401, 900])
def test_a_slot_without_uids_of_its_own_is_refused(slot: int | None) -> None:
    s = load_settings({"SHIPWAY_HOME": "/srv/x", "SHIPWAY_UID_BASE": "300000"})
    with pytest.raises(UserError):
        s.app_uid(slot)
    with pytest.raises(UserError):
        s.service_uid(slot)


def test_the_registry_reuses_the_slot_a_deactivated_environment_frees(tmp_path: Path) -> None:
    registry = Registry(Store(tmp_path / "db"))
    registry.create_project("p")
    main = registry.ensure_environment("p", "main", active=True, type_=None, parent=None)
    a = registry.ensure_environment("p", "a", active=True, type_=None, parent=None)
    idle = registry.ensure_environment("p", "idle", active=False, type_=None, parent=None)
    assert (main.slot, a.slot, idle.slot) == (0, 1, None)
    registry.deactivate("p", "a")
    assert registry.environment("p", "a").slot is None
    b = registry.ensure_environment("p", "b", active=True, type_=None, parent=None)
    assert b.slot == 1
    again = registry.ensure_environment("p", "a", active=True, type_=None, parent=None)
    assert again.slot == 2
    assert registry.ensure_environment("p", "a", active=True, type_=None, parent=None).slot == 2


def test_an_old_database_frees_the_slots_of_inactive_environments(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "db")
    db.executescript(
        "CREATE TABLE projects (name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
        " created_at REAL NOT NULL);"
        "CREATE TABLE environments (project TEXT NOT NULL REFERENCES projects(name),"
        " name TEXT NOT NULL, machine_name TEXT NOT NULL, type TEXT NOT NULL,"
        " status TEXT NOT NULL, parent TEXT, head_commit TEXT, slot INTEGER NOT NULL,"
        " current_release INTEGER, PRIMARY KEY (project, name));"
        "INSERT INTO projects VALUES ('p', 'id', 0);"
        "INSERT INTO environments VALUES ('p', 'main', 'm', 'production', 'active', NULL,"
        " NULL, 0, 1);"
        "INSERT INTO environments VALUES ('p', 'old', 'o', 'development', 'inactive', 'main',"
        " NULL, 1, NULL);"
        "INSERT INTO environments VALUES ('p', 'dev', 'd', 'development', 'active', 'main',"
        " NULL, 2, 3);")
    db.commit()
    db.close()
    registry = Registry(Store(tmp_path / "db"))
    assert [(e.name, e.slot) for e in registry.environments()] == [
        ("dev", 2), ("main", 0), ("old", None)]
    assert registry.environment("p", "dev").current_release == 3
    assert registry.ensure_environment("p", "new", active=True, type_=None, parent=None).slot == 1


def test_a_slot_is_cleared_as_it_is_taken_and_refused_if_that_fails(tmp_path: Path) -> None:
    taken: list[int] = []
    leftover = {1}

    def on_slot(slot: int) -> None:
        taken.append(slot)
        if slot in leftover:
            raise PlatformError(f"processes of slot {slot} survived")

    registry = Registry(Store(tmp_path / "db"), on_slot=on_slot)
    registry.create_project("p")
    registry.ensure_environment("p", "main", active=True, type_=None, parent=None)
    registry.ensure_environment("p", "idle", active=False, type_=None, parent=None)
    with pytest.raises(PlatformError, match="slot 1 survived"):
        registry.ensure_environment("p", "a", active=True, type_=None, parent=None)
    with pytest.raises(NotFound):
        registry.environment("p", "a")  # refused: nothing was recorded
    with pytest.raises(PlatformError):
        registry.ensure_environment("p", "idle", active=True, type_=None, parent=None)
    assert registry.environment("p", "idle").slot is None
    leftover.clear()
    assert registry.ensure_environment("p", "idle", active=True, type_=None, parent=None).slot == 1
    registry.ensure_environment("p", "idle", active=True, type_=None, parent=None)  # holds it already
    assert taken == [0, 1, 1, 1]
