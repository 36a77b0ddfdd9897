"""Console sign-in links and sessions (W1): single use, expiry, stored hashed, CSRF binding."""

from __future__ import annotations

from pathlib import Path

from shipway.console.sessions import LINK_SECONDS, ConsoleSessions, csrf_ok, csrf_token, digest
from shipway.state.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sessions(tmp_path: Path, seconds: float = 60) -> tuple[ConsoleSessions, Store, Clock]:
    store, clock = Store(tmp_path / "state.db"), Clock()
    return ConsoleSessions(store, clock, session_seconds=seconds), store, clock


def test_w1_a_link_signs_in_once(tmp_path: Path) -> None:
    sessions, _, _ = _sessions(tmp_path)
    link = sessions.new_link("u1")
    first = sessions.redeem(link)
    assert first is not None and first.user_id == "u1"
    assert sessions.redeem(link) is None
    assert sessions.session(first.secret) == first


def test_w1_an_expired_link_signs_in_no_one(tmp_path: Path) -> None:
    sessions, _, clock = _sessions(tmp_path)
    link = sessions.new_link("u1")
    clock.now += LINK_SECONDS + 1
    assert sessions.redeem(link) is None


def test_w1_sessions_expire_and_end(tmp_path: Path) -> None:
    sessions, _, clock = _sessions(tmp_path, seconds=60)
    one = sessions.redeem(sessions.new_link("u1"))
    two = sessions.redeem(sessions.new_link("u1"))
    assert one and two and one.secret != two.secret
    sessions.end(one.secret)
    assert sessions.session(one.secret) is None and sessions.session(two.secret) is not None
    clock.now += 61
    assert sessions.session(two.secret) is None


def test_w1_only_hashes_are_stored(tmp_path: Path) -> None:
    sessions, store, _ = _sessions(tmp_path)
    link = sessions.new_link("u1")
    assert store.one("SELECT hash FROM console_links")["hash"] == digest(link)
    session = sessions.redeem(link)
    assert session is not None
    dump = repr(store.all("SELECT * FROM console_sessions")) + repr(store.all("SELECT * FROM console_links"))
    assert session.secret not in dump and link not in dump


def test_w1_garbage_secrets_find_nothing(tmp_path: Path) -> None:
    sessions, _, _ = _sessions(tmp_path)
    for secret in ("", "x", "x" * 500, None):
        assert sessions.session(secret) is None
    assert sessions.redeem("") is None and sessions.redeem("y" * 500) is None


def test_w1_csrf_token_is_bound_to_its_session() -> None:
    assert csrf_ok("a", csrf_token("a"))
    assert not csrf_ok("a", csrf_token("b"))
    assert not csrf_ok("a", "") and not csrf_ok("a", None)
