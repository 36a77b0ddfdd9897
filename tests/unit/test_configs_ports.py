"""C6a: services on their standard ports at their relationship host names (pure parts)."""

from __future__ import annotations

import pytest

from shipway.services import standard
from shipway.services.relationships import Endpoint, host_addresses, hosts_file


def test_c6a_one_address_per_port_never_shared() -> None:
    addresses = {standard.service_address(p) for p in range(1, 65536)}
    assert len(addresses) == 65535
    assert all(a.startswith("127.77.") for a in addresses)
    assert standard.service_address(20001) == "127.77.78.33"


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_c6a_bad_port_refused(port: int) -> None:
    with pytest.raises(ValueError):
        standard.service_address(port)


@pytest.mark.parametrize(("engine", "port"), [("postgresql", 5432), ("mariadb", 3306),
                                              ("redis", 6379), ("memcached", 11211), ("other", None)])
def test_c6a_standard_ports(engine: str, port: int | None) -> None:
    assert standard.standard_port(engine) == port


def test_c6a_translation_script() -> None:
    setup = standard.setup_script("shipway_x")
    assert any("type nat hook output priority -100" in line for line in setup)
    assert any("dnat ip to ip daddr . tcp dport map @service_dnat" in line for line in setup)
    assert standard.add_script("shipway_x", 20001, 5432) == [
        "add element inet shipway_x service_dnat { 127.77.78.33 . 5432 : 127.0.0.1 . 20001 }"]


@pytest.mark.parametrize("table", ["bad table", "x;flush ruleset", ""])
def test_c6a_table_name_checked(table: str) -> None:
    with pytest.raises(ValueError):
        standard.setup_script(table)


def test_c6a_hosts_name_each_service_at_its_address() -> None:
    doc = {"database": [{"host": "database.internal", "hostname": "db.internal", "ip": "127.77.1.2"}],
           "api": [{"host": "api.internal", "hostname": "backend.internal", "ip": "127.0.0.1"}]}
    text = hosts_file(host_addresses(doc), base="127.0.0.1 localhost\n")
    assert "127.77.1.2\tdatabase.internal" in text and "127.77.1.2\tdb.internal" in text
    assert "127.0.0.1\tapi.internal" in text
    assert hosts_file(["x.internal"], base="") == "127.0.0.1\tx.internal\n"


def test_c6a_endpoint_shape_unchanged() -> None:
    assert Endpoint(5432, "main", "pw", "main", "127.77.1.2").ip == "127.77.1.2"
