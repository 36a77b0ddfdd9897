"""The route table's values: valid from birth, durations as Platform.sh reads them."""

from __future__ import annotations

import pytest

from shipway.router.table import Redirect, Site, StaticLocation, Upstream, expires_seconds


@pytest.mark.parametrize(
    ("expires", "seconds"),
    [
        (None, None),
        ("-1", None),
        ("-1s", None),
        ("0", None),
        ("90", 90),
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("2d", 172800),
        ("1w", 604800),
        ("1M", 2592000),
        ("1y", 31536000),
        ("1500ms", 1),
        ("500ms", None),
    ],
)
def test_expires_durations(expires: str | None, seconds: int | None) -> None:
    assert expires_seconds(expires) == seconds


@pytest.mark.parametrize("expires", ["1 hour", "h", "1.5h", "1Y", "soon"])
def test_bad_expires_is_refused(expires: str) -> None:
    with pytest.raises(ValueError, match="expires"):
        StaticLocation("/", root="/srv", expires=expires)


@pytest.mark.parametrize("dial", ["unix//run/app.sock", "127.0.0.1:8000", "localhost:80"])
def test_good_upstreams(dial: str) -> None:
    assert Upstream(dial).dial == dial


@pytest.mark.parametrize("dial", ["unix/app.sock", "127.0.0.1", "http://127.0.0.1:80", ""])
def test_bad_upstreams(dial: str) -> None:
    with pytest.raises(ValueError):
        Upstream(dial)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Redirect("/relative"), "URL"),
        (lambda: Redirect("https://x.test/{path}"), "URL"),
        (lambda: Redirect("https://x.test/", code=200), "code"),
        (lambda: Site("ftp", "x.test", "/", Upstream("127.0.0.1:1")), "scheme"),  # type: ignore[arg-type]
        (lambda: Site("http", "x.test:80", "/", Upstream("127.0.0.1:1")), "host"),
        (lambda: Site("http", "x.test", "api", Upstream("127.0.0.1:1")), "path"),
        (lambda: Site("http", "x.test", "/a*", Upstream("127.0.0.1:1")), "path"),
        (
            lambda: Site("http", "x.test", "/", Redirect("https://x.test/"), (StaticLocation("/"),)),
            "upstream",
        ),
        (lambda: StaticLocation("/", root="relative/dir"), "root"),
        (lambda: StaticLocation("/", root="/srv", passthru="index.php"), "passthru"),
    ],
)
def test_invalid_values_are_refused(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        make()


def test_location_headers_cannot_change_after_birth() -> None:
    headers = {"X-A": "1"}
    location = StaticLocation("/", root="/srv", headers=headers)
    headers["X-B"] = "2"
    assert dict(location.headers) == {"X-A": "1"}
    with pytest.raises(TypeError):
        location.headers["X-C"] = "3"  # type: ignore[index]


def test_wildcard_host_is_a_valid_site() -> None:
    assert Site("https", "*.x.test", "/", Upstream("127.0.0.1:1")).host == "*.x.test"


@pytest.mark.parametrize("marker", ["relative/m", "/srv/holds/", "/srv/{host}", "/srv/a b", ""])
def test_bad_hold_markers_are_refused(marker: str) -> None:
    with pytest.raises(ValueError, match="hold marker"):
        Upstream("127.0.0.1:1", hold_marker=marker)


def test_hold_marker_is_optional() -> None:
    assert Upstream("127.0.0.1:1").hold_marker is None
    assert Upstream("127.0.0.1:1", "/var/lib/shipway/holds/0a1b").hold_marker == "/var/lib/shipway/holds/0a1b"
