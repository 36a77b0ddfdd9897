"""T1: the domain registry on a real SQLite file: one owner per name, the
oldest domain is the default, names are checked before they are stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.domains.registry import MAX_DOMAINS, Domains
from shipway.errors import NotFound, UsageError
from shipway.state.store import Store


@pytest.fixture
def domains(tmp_path: Path) -> Domains:
    store = Store(tmp_path / "state.db")
    for name in ("shop", "blog"):
        store.execute("INSERT INTO projects (name, id, created_at) VALUES (?, ?, 0)", name, name)
    return Domains(store, "shipway.test")


def test_first_domain_is_the_default_and_the_next_takes_over_t1(domains: Domains) -> None:
    domains.add("shop", "www.example.com")
    domains.add("shop", "Example.COM")
    assert [(d.name, d.is_default) for d in domains.list("shop")] == [
        ("www.example.com", True), ("example.com", False)]
    assert domains.names("shop") == ("www.example.com", "example.com")
    domains.delete("shop", "WWW.example.com.")
    assert domains.names("shop") == ("example.com",)
    assert domains.get("shop", "example.com").is_default


def test_a_name_has_one_owner_t1(domains: Domains) -> None:
    domains.add("shop", "example.com")
    with pytest.raises(UsageError, match="claimed by another project") as refused:
        domains.add("blog", "EXAMPLE.com")
    assert "shop" not in str(refused.value)  # the owner is not disclosed
    with pytest.raises(UsageError, match="already a domain of project 'shop'"):
        domains.add("shop", "example.com")
    assert domains.foreign("blog") == frozenset({"example.com"})
    assert domains.foreign("shop") == frozenset()


def test_another_projects_domain_cannot_be_read_or_deleted_t1(domains: Domains) -> None:
    domains.add("shop", "example.com")
    with pytest.raises(NotFound):
        domains.get("blog", "example.com")
    with pytest.raises(NotFound):
        domains.delete("blog", "example.com")
    assert domains.names("shop") == ("example.com",)


def test_invalid_names_are_never_stored_t1(domains: Domains) -> None:
    for bad in ("x" * 300 + ".com", "main-abc.shop.shipway.test", "a b.com", "{default}.com"):
        with pytest.raises(UsageError):
            domains.add("shop", bad)
    assert domains.list("shop") == []


def test_a_project_has_at_most_max_domains_t1(domains: Domains) -> None:
    for i in range(MAX_DOMAINS):
        domains.add("shop", f"d{i}.example.com")
    with pytest.raises(UsageError, match=f"already has {MAX_DOMAINS} domains"):
        domains.add("shop", "one-more.example.com")
    domains.add("blog", "one-more.example.com")  # another project's quota is its own
