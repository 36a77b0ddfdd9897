"""Route resolution for one environment (SPEC C4, reference §2.2), pure."""

from __future__ import annotations

import pytest

from shipway.config import RouteConfig, platform_routes, resolve_routes
from shipway.config.routes import normalize_template, parse_template

HOST = "main-abc1234.example.test"


def up(template: str, app: str = "app", **kw: object) -> RouteConfig:
    return RouteConfig(template, "upstream", upstream=f"{app}:http", **kw)  # type: ignore[arg-type]


def redirect(template: str, to: str, **kw: object) -> RouteConfig:
    return RouteConfig(template, "redirect", to=to, **kw)  # type: ignore[arg-type]


H = f"https://{HOST}/"
# (id, routes, [(url, type, upstream app or redirect target, primary)])
CASES = [
    ("default with its http twin", [up("https://{default}/")],
     [(H, "upstream", "app", True), (f"http://{HOST}/", "redirect", H, False)]),
    ("http only has no twin", [up("http://{default}/")],
     [(f"http://{HOST}/", "upstream", "app", True)]),
    ("explicit http route wins over the twin",
     [up("https://{default}/"), up("http://{default}/", "legacy")],
     [(H, "upstream", "app", True), (f"http://{HOST}/", "upstream", "legacy", False)]),
    ("www redirect to the apex",
     [up("https://{default}/"), redirect("https://www.{default}/", "https://{default}/")],
     [(H, "upstream", "app", True), (f"http://{HOST}/", "redirect", H, False),
      (f"https://www.{HOST}/", "redirect", H, False),
      (f"http://www.{HOST}/", "redirect", f"https://www.{HOST}/", False)]),
    ("apex redirect to www (laravel)",
     [redirect("https://{default}/", "https://www.{default}/"), up("https://www.{default}/")],
     [(H, "redirect", f"https://www.{HOST}/", False),
      (f"http://{HOST}/", "redirect", H, False),
      (f"https://www.{HOST}/", "upstream", "app", True),
      (f"http://www.{HOST}/", "redirect", f"https://www.{HOST}/", False)]),
    ("sub-domains and a path", [up("https://api.{default}/", "api"),
                                up("https://{default}/blog", "blog")],
     [(f"https://api.{HOST}/", "upstream", "api", True),
      (f"http://api.{HOST}/", "redirect", f"https://api.{HOST}/", False),
      (f"https://{HOST}/blog/", "upstream", "blog", False),
      (f"http://{HOST}/blog/", "redirect", f"https://{HOST}/blog/", False)]),
    ("absolute host is prefixed", [up("https://example.com/")],
     [(f"https://example.com.{HOST}/", "upstream", "app", True),
      (f"http://example.com.{HOST}/", "redirect", f"https://example.com.{HOST}/", False)]),
    ("redirect to an absolute route follows it",
     [up("https://example.com/"), redirect("https://www.example.com/", "https://example.com/")],
     [(f"https://example.com.{HOST}/", "upstream", "app", True),
      (f"http://example.com.{HOST}/", "redirect", f"https://example.com.{HOST}/", False),
      (f"https://www.example.com.{HOST}/", "redirect", f"https://example.com.{HOST}/", False),
      (f"http://www.example.com.{HOST}/", "redirect", f"https://www.example.com.{HOST}/",
       False)]),
    ("external redirect is kept", [redirect("https://{default}/", "https://example.org/x")],
     [(H, "redirect", "https://example.org/x", False),
      (f"http://{HOST}/", "redirect", H, False)]),
    ("{all} is {default}", [up("https://{all}/")],
     [(H, "upstream", "app", True), (f"http://{HOST}/", "redirect", H, False)]),
    ("{default} wins over {all}", [up("https://{all}/", "other"), up("https://{default}/")],
     [(H, "upstream", "app", True), (f"http://{HOST}/", "redirect", H, False)]),
    ("primary marked", [up("https://{default}/"), up("https://b.{default}/", "b", primary=True)],
     [(H, "upstream", "app", False), (f"http://{HOST}/", "redirect", H, False),
      (f"https://b.{HOST}/", "upstream", "b", True),
      (f"http://b.{HOST}/", "redirect", f"https://b.{HOST}/", False)]),
    ("primary is the first upstream", [redirect("http://x.{default}/", "https://{default}/"),
                                       up("http://{default}/")],
     [(f"http://x.{HOST}/", "redirect", H, False), (f"http://{HOST}/", "upstream", "app", True)]),
    ("no routes", [], []),
]


@pytest.mark.parametrize(("routes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_resolve(routes: list[RouteConfig], expected: list[tuple]) -> None:
    got = resolve_routes(routes, HOST)
    assert [(r.url, r.type, r.upstream_app or r.to, r.primary) for r in got] == expected


def test_resolved_parts_and_original_url() -> None:
    main, twin = resolve_routes([up("https://www.{default}/shop", id="shop")], HOST)
    assert (main.scheme, main.host, main.path, main.id, main.original_url) == (
        "https", f"www.{HOST}", "/shop/", "shop", "https://www.{default}/shop")
    assert (twin.original_url, twin.id, twin.upstream_app) == (
        "http://www.{default}/shop", None, None)


def test_platform_routes_shape() -> None:
    table = platform_routes(resolve_routes(
        [up("https://{default}/", id="main", attributes={"a": "b"})], HOST))
    assert table == {
        H: {"primary": True, "id": "main", "attributes": {"a": "b"}, "type": "upstream",
            "upstream": "app", "original_url": "https://{default}/",
            "cache": {"enabled": False}, "ssi": {"enabled": False}},
        f"http://{HOST}/": {"primary": False, "id": None, "attributes": {}, "type": "redirect",
                            "to": H, "original_url": "http://{default}/",
                            "cache": {"enabled": False}, "ssi": {"enabled": False}},
    }


@pytest.mark.parametrize(("written", "normalized"), [
    ("https://{default}", "https://{default}/"),
    ("https://{default}/", "https://{default}/"),
    ("HTTPS://WWW.{default}/a", "https://www.{default}/a"),
    ("http://*.{default}/", "http://*.{default}/"),
    ("https://example.com", "https://example.com/"),
])
def test_normalize_template(written: str, normalized: str) -> None:
    assert normalize_template(written) == normalized


@pytest.mark.parametrize(("written", "message"), [
    ("{default}/", "must be a URL template"),
    ("ftp://{default}/", "scheme must be http or https"),
    ("https://{default}:8080/", "ports are not allowed"),
    ("https://a.*.{default}/", "invalid host"),
    ("https://{default}.{all}/", "invalid host"),
    ("https://under_score.{default}/", "invalid host"),
])
def test_invalid_template(written: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_template(written)
