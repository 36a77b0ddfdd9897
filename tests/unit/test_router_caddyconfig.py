"""render(): the route table as Caddy JSON, checked as values (no Caddy here).

Matching is checked by a tiny model of Caddy's host and path matchers
(`_answer`), so cases read as "this request goes there".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from shipway.router.caddyconfig import DOWN_RETRY, NO_ROUTE_BODY, NOT_ANSWERING_BODY, render
from shipway.router.table import LocationRule, PathRedirect, Redirect, Site, StaticLocation, Upstream


def _render(sites: list[Site], **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "http_port": 8080,
        "https_port": 8443,
        "listen_host": "127.0.0.1",
        "admin_socket": Path("/run/shipway/admin.sock"),
        "storage_dir": Path("/var/lib/shipway/caddy"),
        "hold_seconds": 300,
        "access_log": None,
    }
    return render(sites, **(options | overrides))


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == pattern[2:]
    return pattern.lower() == host.lower()


def _path_matches(patterns: list[str], path: str) -> bool:
    return any(
        path.startswith(p[:-1]) if p.endswith("*") else path.lower() == p.lower() for p in patterns
    )


def _matches(route: dict[str, Any], host: str, path: str) -> bool:
    if "match" not in route:
        return True
    (match,) = route["match"]
    return _host_matches_any(match["host"], host) and _path_matches(match.get("path", ["*"]), path)


def _host_matches_any(patterns: list[str], host: str) -> bool:
    return any(_host_matches(p, host) for p in patterns)


def _answer(config: dict[str, Any], scheme: str, host: str, path: str) -> str:
    """What the first matching route does, in a few words."""
    server = config["apps"]["http"]["servers"][scheme]
    route = next(r for r in server["routes"] if _matches(r, host, path))
    last = route["handle"][-1]
    if last["handler"] == "reverse_proxy":
        return "proxy " + last["upstreams"][0]["dial"]
    if last["handler"] == "subroute":
        return "proxy " + last["routes"][-1]["handle"][0]["upstreams"][0]["dial"]
    location = last.get("headers", {}).get("Location", [""])[0]
    return f"{last['status_code']} {location}".strip()


SITES = [
    Site("http", "a.test", "/", Upstream("127.0.0.1:1")),
    Site("http", "a.test", "/api", Upstream("127.0.0.1:2")),
    Site("http", "a.test", "/api/v2/", Upstream("127.0.0.1:3")),
    Site("http", "*.a.test", "/", Upstream("127.0.0.1:4")),
    Site("http", "www.a.test", "/", Redirect("https://a.test/")),
    Site("http", "old.a.test", "/blog", Redirect("https://blog.test/posts", code=302)),
    Site("https", "a.test", "/", Upstream("unix//run/app.sock")),
    Site("http", "*.a.test", "/api", Upstream("127.0.0.1:5")),
]


@pytest.mark.parametrize(
    ("scheme", "host", "path", "expected"),
    [
        ("http", "a.test", "/", "proxy 127.0.0.1:1"),
        ("http", "A.TEST", "/x", "proxy 127.0.0.1:1"),
        ("http", "a.test", "/api", "proxy 127.0.0.1:2"),
        ("http", "a.test", "/api/users", "proxy 127.0.0.1:2"),
        ("http", "a.test", "/apiary", "proxy 127.0.0.1:1"),
        ("http", "a.test", "/api/v2", "proxy 127.0.0.1:3"),
        ("http", "a.test", "/api/v2/x", "proxy 127.0.0.1:3"),
        ("http", "www.a.test", "/x", "301 https://a.test{http.request.uri}"),
        ("http", "old.a.test", "/blog/1", "302 https://blog.test/posts{http.request.uri}"),
        ("http", "old.a.test", "/other", "proxy 127.0.0.1:4"),
        ("http", "b.a.test", "/", "proxy 127.0.0.1:4"),
        ("http", "b.a.test", "/api/x", "proxy 127.0.0.1:5"),
        ("http", "x.b.a.test", "/", "404"),
        ("http", "nowhere.test", "/", "404"),
        ("https", "a.test", "/", "proxy unix//run/app.sock"),
        ("https", "b.a.test", "/", "404"),
    ],
)
def test_requests_reach_the_most_specific_route(
    scheme: str, host: str, path: str, expected: str
) -> None:
    assert _answer(_render(SITES), scheme, host, path) == expected


def test_redirect_below_a_path_strips_that_path_first() -> None:
    config = _render([Site("http", "a.test", "/blog/", Redirect("https://b.test/"))])
    route = config["apps"]["http"]["servers"]["http"]["routes"][0]
    assert route["match"] == [{"host": ["a.test"], "path": ["/blog", "/blog/*"]}]
    assert route["handle"][0] == {"handler": "rewrite", "strip_path_prefix": "/blog"}


def test_unmatched_requests_get_a_plain_404() -> None:
    server = _render([])["apps"]["http"]["servers"]["http"]
    assert server["routes"][-1]["handle"][0]["status_code"] == 404
    assert server["routes"][-1]["handle"][0]["body"] == NO_ROUTE_BODY


@pytest.mark.parametrize(("hold", "duration"), [(300, "300000ms"), (1, "1000ms"), (0.25, "250ms")])
def test_proxy_holds_requests_for_the_hold_limit(hold: float, duration: str) -> None:
    config = _render([Site("http", "a.test", "/", Upstream("127.0.0.1:1"))], hold_seconds=hold)
    proxy = config["apps"]["http"]["servers"]["http"]["routes"][0]["handle"][0]
    assert proxy == {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": "127.0.0.1:1"}],
        "load_balancing": {"try_duration": duration, "try_interval": "20ms"},
        "transport": {"protocol": "http", "keep_alive": {"enabled": False}},
    }


def test_upstream_failures_become_503_with_retry_after() -> None:
    for server in _render(SITES)["apps"]["http"]["servers"].values():
        (route,) = server["errors"]["routes"]
        assert "502" in route["match"][0]["expression"]
        (handler,) = route["handle"]
        assert handler["status_code"] == 503
        assert handler["headers"]["Retry-After"] == ["10"]
        assert handler["body"] == NOT_ANSWERING_BODY


def test_https_hosts_get_internal_certificates_and_no_automatic_redirects() -> None:
    config = _render(SITES)
    apps = config["apps"]
    assert apps["tls"]["automation"]["policies"] == [
        {"subjects": ["a.test"], "issuers": [{"module": "internal"}]}
    ]
    assert apps["pki"]["certificate_authorities"]["local"]["install_trust"] is False
    assert apps["http"]["servers"]["https"]["automatic_https"] == {"disable_redirects": True}
    assert apps["http"]["servers"]["https"]["listen"] == ["127.0.0.1:8443"]
    assert apps["http"]["servers"]["http"]["automatic_https"] == {"disable": True}
    assert (apps["http"]["http_port"], apps["http"]["https_port"]) == (8080, 8443)


def test_without_https_sites_there_is_no_tls_at_all() -> None:
    config = _render([Site("http", "a.test", "/", Upstream("127.0.0.1:1"))], listen_host="")
    assert set(config["apps"]) == {"http"}
    assert set(config["apps"]["http"]["servers"]) == {"http"}
    assert config["apps"]["http"]["servers"]["http"]["listen"] == [":8080"]


def test_inherited_sockets_replace_the_bound_addresses() -> None:
    servers = _render(SITES, listen={"http": "fd/3", "https": "fd/4"})["apps"]["http"]["servers"]
    assert (servers["http"]["listen"], servers["https"]["listen"]) == (["fd/3"], ["fd/4"])
    assert servers["https"]["protocols"] == ["h1", "h2"]  # no UDP socket for HTTP/3
    assert "protocols" not in _render(SITES)["apps"]["http"]["servers"]["https"]


def test_admin_api_and_storage() -> None:
    config = _render([])
    assert config["admin"]["listen"] == "unix//run/shipway/admin.sock"
    assert config["storage"] == {"module": "file_system", "root": "/var/lib/shipway/caddy"}


def test_access_log_is_json_in_its_own_file() -> None:
    config = _render(SITES, access_log=Path("/var/log/shipway/access.log"))
    logs = config["logging"]["logs"]
    (name,) = set(logs) - {"default"}
    assert logs[name]["writer"] == {"output": "file", "filename": "/var/log/shipway/access.log"}
    assert logs[name]["encoder"] == {"format": "json"}
    for server in config["apps"]["http"]["servers"].values():
        assert server["logs"] == {"default_logger_name": name}
    assert "logging" not in _render(SITES)


# --- static locations -------------------------------------------------------


def _location_routes(*locations: StaticLocation) -> list[dict[str, Any]]:
    site = Site("http", "a.test", "/", Upstream("127.0.0.1:1"), locations)
    (handler,) = _render([site])["apps"]["http"]["servers"]["http"]["routes"][0]["handle"]
    assert handler["handler"] == "subroute"
    routes: list[dict[str, Any]] = handler["routes"]
    assert routes[-1] == {"handle": [PROXY]}, "requests outside every location go to the app"
    return routes[:-1]


PROXY = {
    "handler": "reverse_proxy",
    "upstreams": [{"dial": "127.0.0.1:1"}],
    "load_balancing": {"try_duration": "300000ms", "try_interval": "20ms"},
    "transport": {"protocol": "http", "keep_alive": {"enabled": False}},
}


def _inner(route: dict[str, Any]) -> list[dict[str, Any]]:
    (handler,) = route["handle"]
    assert handler["handler"] == "subroute"
    routes: list[dict[str, Any]] = handler["routes"]
    return routes


def test_no_locations_means_everything_proxies() -> None:
    config = _render([Site("http", "a.test", "/", Upstream("127.0.0.1:1"))])
    assert config["apps"]["http"]["servers"]["http"]["routes"][0]["handle"] == [PROXY]


def test_longer_location_prefixes_are_tried_first() -> None:
    routes = _location_routes(
        StaticLocation("/"), StaticLocation("/static/img", root="/srv"), StaticLocation("/static")
    )
    patterns = [r["match"][0]["path_regexp"]["pattern"] for r in routes]
    assert patterns == ["^/static/img(/.*)?$", "^/static(/.*)?$", "^(/.*)?$"]


def test_location_without_root_proxies() -> None:
    (route,) = _location_routes(StaticLocation("/", passthru=True))
    assert route["handle"] == [PROXY]


def test_existing_file_is_served_with_cache_and_extra_headers() -> None:
    location = StaticLocation(
        "/static", root="/srv/pub", expires="1h", index=("index.html",), headers={"X-A": "b"}
    )
    (route,) = _location_routes(location)
    serve = _inner(route)[0]
    assert serve["match"] == [
        {"file": {"root": "/srv/pub", "try_files": ["{http.regexp.loc.1}",
                                                      "{http.regexp.loc.1}/index.html"]}}
    ]
    headers, rewrite, file_server = serve["handle"]
    assert headers["response"]["set"] == {"Cache-Control": ["max-age=3600"], "X-A": ["b"]}
    assert rewrite == {"handler": "rewrite", "uri": "{http.matchers.file.relative}"}
    assert file_server == {"handler": "file_server", "root": "/srv/pub"}


def test_no_expires_means_no_cache_headers() -> None:
    (route,) = _location_routes(StaticLocation("/", root="/srv", expires="-1"))
    assert [h["handler"] for h in _inner(route)[0]["handle"]] == ["rewrite", "file_server"]


@pytest.mark.parametrize(
    ("passthru", "fallback"),
    [
        (True, [PROXY]),
        ("/index.php", [{"handler": "rewrite", "uri": "/index.php"}, PROXY]),
        (False, ["404"]),
    ],
)
def test_missing_file_goes_where_passthru_says(passthru: bool | str, fallback: list[Any]) -> None:
    (route,) = _location_routes(StaticLocation("/", root="/srv", passthru=passthru))
    handle = _inner(route)[-1]["handle"]
    summary = [str(h["status_code"]) if h["handler"] == "static_response" else h for h in handle]
    assert summary == fallback


def test_disallowed_location_never_serves_files() -> None:
    (route,) = _location_routes(StaticLocation("/", root="/srv", allow=False, passthru=True))
    assert _inner(route) == [{"handle": [PROXY]}]


# --- hold marker: hold during deploys only (D2) ------------------------------


def _held_proxy(**overrides: Any) -> dict[str, Any]:
    upstream = Upstream("unix//srv/u/abc.sock", hold_marker="/srv/holds/abc")
    config = _render([Site("http", "a.test", "/", upstream)], **overrides)
    (handler,) = config["apps"]["http"]["servers"]["http"]["routes"][0]["handle"]
    return handler


def test_marker_present_holds_up_to_the_limit_absent_retries_under_a_second() -> None:
    handler = _held_proxy(hold_seconds=120)
    assert handler["handler"] == "subroute"
    deploying, otherwise = handler["routes"]
    assert deploying["match"] == [{"file": {"root": "/srv/holds", "try_files": ["/abc"]}}]
    assert deploying["terminal"] is True
    assert deploying["handle"][0]["load_balancing"]["try_duration"] == "120000ms"
    assert "match" not in otherwise
    (down,) = otherwise["handle"]
    assert down["upstreams"] == [{"dial": "unix//srv/u/abc.sock"}]
    assert down["load_balancing"]["try_duration"] == DOWN_RETRY
    assert float(DOWN_RETRY.removesuffix("ms")) / 1000 < 1.0, "D2: a down app answers within a second"


def test_pooled_upstream_connections_outside_deploys_fresh_ones_while_held_t5() -> None:
    """T5 without dropping D2: a request taking the deploy branch dials anew (the gate acts
    on new connections), others reuse pooled connections, closed when idle for 1 s."""
    deploying, otherwise = _held_proxy()["routes"]
    assert deploying["handle"][0]["transport"]["keep_alive"] == {"enabled": False}
    pooled = otherwise["handle"][0]["transport"]["keep_alive"]
    assert pooled["enabled"] is True
    assert pooled["idle_timeout"] == "1s"


def test_marker_choice_also_guards_static_passthru() -> None:
    location = StaticLocation("/", root="/srv/pub", passthru=True)
    upstream = Upstream("127.0.0.1:1", hold_marker="/srv/holds/m")
    config = _render([Site("http", "a.test", "/", upstream, (location,))])
    (handler,) = config["apps"]["http"]["servers"]["http"]["routes"][0]["handle"]
    passthru = handler["routes"][0]["handle"][0]["routes"][-1]["handle"]
    fallback = handler["routes"][-1]["handle"]
    for proxies in (passthru, fallback):
        (proxy,) = proxies
        assert proxy["handler"] == "subroute"
        assert proxy["routes"][0]["match"][0]["file"]["try_files"] == ["/m"]


def test_the_table_order_does_not_change_the_config() -> None:
    # An unchanged config is never reloaded (router/control.py); a reload
    # fails held requests and cuts idle keep-alive connections.
    assert _render(SITES) == _render(list(reversed(SITES)))
    assert _render(SITES[3:] + SITES[:3]) == _render(SITES)


def _redirect_answer(config: dict[str, Any], path: str, query: str = "") -> tuple[int, str] | None:
    """What the partial redirects of the first http route answer for `path` (a tiny model of
    Caddy's path_regexp, the query-string expression and their placeholders)."""
    (sub,) = config["apps"]["http"]["servers"]["http"]["routes"][0]["handle"]
    for route in sub["routes"][:-1]:
        match = route["match"][0]
        found = re.search(match["path_regexp"]["pattern"], path)
        if "expression" in match:
            assert match["expression"] == '{http.request.uri.query} != ""'
            found = found if query else None
        if found:
            answer = route["handle"][0]
            location = answer["headers"]["Location"][0]
            for n, group in enumerate(found.groups(), start=1):
                location = location.replace(f"{{http.regexp.redir.{n}}}", group or "")
            return answer["status_code"], location.replace("{http.request.uri.query}", query)
    return None


@pytest.mark.parametrize(("path", "expected"), [
    ("/old", (302, "/new")),
    ("/old/page", (302, "/new/page")),
    ("/oldies", None),  # whole path segments only
    ("/exact", (301, "https://b.test/x")),
    ("/exact/more", None),
    ("/whole/a/b", (308, "/flat")),  # append_suffix: false
    ("/blog/2020/post", (307, "/posts/2020-post")),
    ("/elsewhere", None),
])
def test_partial_redirects(path: str, expected: tuple[int, str] | None) -> None:
    redirects = (
        PathRedirect("/old", "/new/"),
        PathRedirect("/exact", "https://b.test/x", code=301, prefix=False),
        PathRedirect("/whole", "/flat", code=308, append_suffix=False),
        PathRedirect(r"^/blog/(\d+)/(\w+)$", "/posts/$1-$2", code=307, regexp=True, expires="1h"),
    )
    config = _render([Site("http", "a.test", "/", Upstream("127.0.0.1:1"), redirects=redirects)])
    assert _redirect_answer(config, path) == expected


def test_partial_redirect_caching_and_bad_targets() -> None:
    site = Site("http", "a.test", "/", Upstream("127.0.0.1:1"),
                redirects=(PathRedirect("/a", "/b", expires="2h"),))
    (sub,) = _render([site])["apps"]["http"]["servers"]["http"]["routes"][0]["handle"]
    assert sub["routes"][0]["handle"][0]["headers"]["Cache-Control"] == ["max-age=7200"]
    with pytest.raises(ValueError, match="path or an http"):
        PathRedirect("/a", "b{x}")
    with pytest.raises(ValueError, match="look-around"):
        PathRedirect("^/(?!keep)", "/b", regexp=True)


@pytest.mark.parametrize(("path", "query", "expected"), [
    ("/old/page", "a=1&b=2", (302, "/new/page?a=1&b=2")),
    ("/exact", "x=1", (301, "https://b.test/x?x=1")),
    ("/whole/a", "q", (308, "/flat?q")),
    ("/blog/2020/post", "ref=rss", (307, "/posts/2020-post?ref=rss")),
    ("/keep", "b=2", (302, "/kept?a=1&b=2")),  # the target's own query comes first
    ("/keep", "", (302, "/kept?a=1")),
    ("/old/page", "", (302, "/new/page")),  # no bare "?"
])
def test_partial_redirects_keep_the_query_string_t4(path: str, query: str,
                                                     expected: tuple[int, str]) -> None:
    redirects = (
        PathRedirect("/old", "/new/"),
        PathRedirect("/exact", "https://b.test/x", code=301, prefix=False),
        PathRedirect("/whole", "/flat", code=308, append_suffix=False),
        PathRedirect(r"^/blog/(\d+)/(\w+)$", "/posts/$1-$2", code=307, regexp=True),
        PathRedirect("/keep", "/kept?a=1", prefix=False),
    )
    config = _render([Site("http", "a.test", "/", Upstream("127.0.0.1:1"), redirects=redirects)])
    assert _redirect_answer(config, path, query) == expected


def test_a_directory_is_asked_for_as_its_index_before_rules_match() -> None:
    """As nginx's `index` on Platform.sh (pelican: `allow: false`, a `\\.html$` rule):
    `/blog/` with index.html is rewritten to `/blog/index.html`, then the rules decide."""
    location = StaticLocation("/blog/", root="/srv", allow=False, index=("index.html",),
                              rules=(LocationRule(r"\.html$", allow=True),))
    (route,) = _location_routes(location)
    first = _inner(route)[0]
    assert first == {
        "match": [{"file": {"root": "/srv", "try_files": ["{http.regexp.loc.1}/index.html"]}}],
        "handle": [{"handler": "rewrite", "uri": "/blog{http.matchers.file.relative}"}],
    }
    assert "terminal" not in first  # the rules after it see the rewritten path
    # Without rules, nothing to decide on the index's name: no rewrite.
    (route,) = _location_routes(StaticLocation("/", root="/srv", index=("index.html",)))
    assert _inner(route)[0]["handle"][-1]["handler"] == "file_server"
