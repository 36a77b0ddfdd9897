"""T3: changes made while a deploy holds requests are loaded once, when the
last hold ends (never during it), or when the hold limit passes."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from shipway.errors import PlatformError
from shipway.router.control import RouterControl
from shipway.router.table import Site, Upstream


class Router:
    """Stands in for Caddy's admin API: records each config it is sent."""

    def __init__(self) -> None:
        self.loads: list[dict[str, Any]] = []
        self.fail = False

    def load(self, config: dict[str, Any]) -> None:
        if self.fail:
            raise PlatformError("rejected")
        self.loads.append(config)


def _control(router: Router, hold: float = 30, coalesce: float = 0) -> RouterControl:
    return RouterControl(router.load, lambda: None, http_port=8080, https_port=8443,
                         listen_host="127.0.0.1", admin_socket=Path("/a.sock"),
                         storage_dir=Path("/s"), hold_seconds=hold, access_log=None,
                         coalesce_seconds=coalesce)  # type: ignore[arg-type]


def _sites(n: int) -> list[Site]:
    return [Site("http", f"env{i}.test", "/", Upstream("127.0.0.1:1")) for i in range(n)]


def _hosts(config: dict[str, Any]) -> int:
    return len(config["apps"]["http"]["servers"]["http"]["routes"]) - 1


def test_changes_outside_a_hold_load_at_once_and_equal_ones_never_t3() -> None:
    router = Router()
    control = _control(router)
    assert control.apply(_sites(1)) and control.apply(_sites(2))
    assert not control.apply(_sites(2))
    assert [_hosts(c) for c in router.loads] == [1, 2]


def test_changes_during_holds_load_once_after_the_last_hold_t3() -> None:
    router = Router()
    control = _control(router)
    control.apply(_sites(1))
    with control.holding():
        with control.holding():
            for n in range(2, 40):
                assert control.apply(_sites(n))  # returns at once, nothing loaded
            assert control.pending and len(router.loads) == 1
        assert len(router.loads) == 1  # one hold still active
    assert [_hosts(c) for c in router.loads] == [1, 39]
    assert not control.pending


def test_a_change_back_to_the_loaded_config_cancels_the_pending_one_t3() -> None:
    router = Router()
    control = _control(router)
    control.apply(_sites(1))
    with control.holding():
        control.apply(_sites(2))
        control.apply(_sites(1))
    assert len(router.loads) == 1


def test_overlapping_holds_past_the_limit_load_anyway_t3() -> None:
    router = Router()
    control = _control(router, hold=0.2)
    control.apply(_sites(1))
    with control.holding():
        control.apply(_sites(2))
        deadline = time.monotonic() + 5
        while len(router.loads) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [_hosts(c) for c in router.loads] == [1, 2]


def test_a_rejected_deferred_config_does_not_fail_the_deploy_t3() -> None:
    router = Router()
    control = _control(router)
    control.apply(_sites(1))
    with control.holding():
        control.apply(_sites(2))
        router.fail = True
    router.fail = False
    assert control.apply(_sites(2))  # tried again by the next sync
    assert [_hosts(c) for c in router.loads] == [1, 2]


def test_a_hold_starting_during_a_flush_waits_for_it_t3() -> None:
    """A request held by a new deploy must not see the deferred load happen."""
    events: list[str] = []
    loading = threading.Event()

    def load(config: dict[str, Any]) -> None:
        loading.set()
        time.sleep(0.2)
        events.append("loaded")

    control = RouterControl(load, lambda: None, http_port=8080, https_port=8443,
                            listen_host="", admin_socket=Path("/a.sock"), storage_dir=Path("/s"),
                            hold_seconds=30, access_log=None, coalesce_seconds=0)

    def other_deploy() -> None:
        loading.wait(5)
        with control.holding():
            events.append("held")

    other = threading.Thread(target=other_deploy)
    other.start()
    with control.holding():
        control.apply(_sites(3))
    other.join()
    assert events == ["loaded", "held"]


def _wait_loads(router: Router, n: int) -> None:
    deadline = time.monotonic() + 5
    while len(router.loads) < n and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_burst_of_changes_outside_holds_loads_once_per_window_t3() -> None:
    """The first change of a quiet router loads at once; the rest of the burst waits for
    the window to end and loads once, as the latest config."""
    router = Router()
    control = _control(router, coalesce=0.3)
    control.apply(_sites(1))
    assert len(router.loads) == 1, "a single change is not delayed"
    for n in range(2, 30):
        assert control.apply(_sites(n))
    assert len(router.loads) == 1 and control.pending
    _wait_loads(router, 2)
    assert [_hosts(c) for c in router.loads] == [1, 29]
    assert not control.pending
    time.sleep(0.35)
    control.apply(_sites(30))
    assert len(router.loads) == 3, "after a quiet window a change loads at once again"


def test_a_window_ending_during_a_hold_leaves_the_load_to_the_hold_t3() -> None:
    router = Router()
    control = _control(router, coalesce=0.1)
    control.apply(_sites(1))
    control.apply(_sites(2))  # coalesced
    with control.holding():
        time.sleep(0.3)
        assert len(router.loads) == 1, "no load while a deploy holds requests"
    assert [_hosts(c) for c in router.loads] == [1, 2]


def test_a_coalesced_change_held_past_the_hold_limit_loads_anyway_t3() -> None:
    router = Router()
    control = _control(router, hold=0.3, coalesce=0.1)
    control.apply(_sites(1))
    control.apply(_sites(2))
    with control.holding():
        _wait_loads(router, 2)
        assert [_hosts(c) for c in router.loads] == [1, 2]
