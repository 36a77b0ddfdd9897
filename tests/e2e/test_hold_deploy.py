"""D2 through real deploys: a real `shipway serve`, real pushes, requests of every method.

The app is stdlib Python (no registry, so builds are quick) and says which
release answered. Its deploy hook sleeps, so every deploy holds requests for
a couple of seconds; client threads, one per method, send back to back
through the router while a push deploys a new release.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .conftest import Shipway, commit, make_repo, push, wait_for

pytestmark = pytest.mark.e2e

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
HOOK_SLEEP = 2.0

APP = '''\
import json, os, socketserver, threading, time
from http.server import BaseHTTPRequestHandler

RELEASE = open("release.txt").read().strip()
if os.path.exists("data/broken"):
    time.sleep(3600)  # a broken release: up, but never listening


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = json.dumps({"release": RELEASE, "method": self.command, "body": body.decode()}).encode()
        self.send_response(200)
        self.send_header("X-Release", RELEASE)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)
        if self.path == "/break":
            open("data/broken", "w").close()
            self.wfile.flush()
            threading.Timer(0.2, os._exit, (1,)).start()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = answer

    def log_message(self, *args):
        pass


if os.environ.get("SOCKET"):
    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True
    server = Server(os.environ["SOCKET"], Handler)
else:
    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
    server = Server(("127.0.0.1", int(os.environ["PORT"])), Handler)
server.serve_forever()
'''


def _config(family: str) -> str:
    return (
        "name: app\ntype: python:3.11\ndisk: 128\n"
        "mounts:\n  data:\n    source: local\n    source_path: data\n"
        f"hooks:\n  deploy: sleep {HOOK_SLEEP}\n"
        "web:\n  commands:\n    start: python3 app.py\n"
        f"  upstream:\n    socket_family: {family}\n"
    )


def _make_app(path: Path, family: str) -> Path:
    path.mkdir(parents=True)
    (path / "app.py").write_text(APP)
    (path / "release.txt").write_text("v1\n")
    (path / ".platform.app.yaml").write_text(_config(family))
    (path / ".platform").mkdir()
    (path / ".platform" / "routes.yaml").write_text(
        '"http://{default}/":\n  type: upstream\n  upstream: "app:http"\n')
    return make_repo(path)


@dataclass(frozen=True)
class Seen:
    method: str
    sent: float
    answered: float
    status: int | None  # None: reset, refused or empty reply
    release: str
    error: str = ""

    @property
    def seconds(self) -> float:
        return self.answered - self.sent


class Traffic:
    """One thread per method, each sending its requests back to back through the router."""

    def __init__(self, url: str) -> None:
        host_port = url.split("://", 1)[1].split("/", 1)[0]
        self.host, _, port = host_port.partition(":")
        self.base = f"http://127.0.0.1:{port}"
        self.seen: list[Seen] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(m,)) for m in METHODS]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)

    def wait_answered(self, sent_after: float, timeout: float = 30) -> None:
        """Until every method has an answer to a request sent after `sent_after`."""
        def every_method() -> bool:
            return {s.method for s in list(self.seen) if s.sent > sent_after} == set(METHODS)
        wait_for(every_method, timeout, "an answer to every method")

    def _run(self, method: str) -> None:
        body = f"{method} body".encode() if method in ("POST", "PUT", "PATCH") else None
        with httpx.Client(base_url=self.base, headers={"Host": self.host}, trust_env=False,
                          timeout=90) as client:
            while not self._stop.is_set():
                sent = time.monotonic()
                try:
                    r = client.request(method, "/", content=body)
                    seen = Seen(method, sent, time.monotonic(), r.status_code,
                                r.headers.get("X-Release", ""))
                    if method != "HEAD" and r.status_code == 200 and body:
                        assert r.json()["body"] == body.decode()
                except httpx.HTTPError as error:
                    seen = Seen(method, sent, time.monotonic(), None, "", repr(error))
                self.seen.append(seen)
                time.sleep(0.02)


@dataclass(frozen=True)
class Project:
    name: str
    family: str
    remote: str
    repo: Path


def _deploy_under_traffic(shipway: Shipway, project: Project, release: str) -> tuple[list[Seen], str]:
    repo, remote = project.repo, project.remote
    (repo / "release.txt").write_text(f"{release}\n")
    commit(repo, release)
    with Traffic(shipway.url(project.name)) as traffic:
        traffic.wait_answered(sent_after=0.0)  # the old release answers every method first
        out = push(repo, remote)
        traffic.wait_answered(sent_after=time.monotonic())  # and the new one after the push
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    return traffic.seen, log


@pytest.fixture(scope="module", params=["unix", "tcp"])
def project(request: pytest.FixtureRequest, shipway: Shipway,
            tmp_path_factory: pytest.TempPathFactory) -> Project:
    family: str = request.param
    name = f"hold{family}"
    remote = shipway.create_project(name)
    repo = _make_app(tmp_path_factory.mktemp(family) / "repo", family)
    first = push(repo, remote)
    assert first.returncode == 0, first.stdout + first.stderr
    return Project(name, family, remote, repo)


def test_d2_every_method_held_during_a_deploy_and_answered_by_the_new_release(
        shipway: Shipway, project: Project) -> None:
    seen, log = _deploy_under_traffic(shipway, project, "v2")
    failed = [s for s in seen if s.status != 200]
    assert not failed, failed[:5]
    held = [s for s in seen if s.seconds >= HOOK_SLEEP * 0.75]
    assert {s.method for s in held} == set(METHODS), "every method waits through the deploy"
    assert {s.release for s in held} == {"v2"}, "held requests are answered by the new release"
    # Old and new never answer at the same time: every old answer came first.
    last_old = max(s.answered for s in seen if s.release == "v1")
    first_new = min(s.answered for s in seen if s.release == "v2")
    assert last_old < first_new
    # The deploy says how long it held and how many requests waited.
    figures = re.search(r"held (\d+) requests?, longest (\d+\.\d+) s", log)
    assert figures, log
    assert int(figures[1]) >= len(METHODS)
    assert float(figures[2]) >= HOOK_SLEEP * 0.75


def test_d2_app_down_outside_a_deploy_gets_503_within_a_second(
        shipway: Shipway, project: Project) -> None:
    url, repo = shipway.url(project.name), project.repo
    app_log = shipway.home / "logs" / project.name / "main" / "app" / "app.log"
    exits = app_log.read_text().count("process exited")
    assert shipway.fetch(url + "break", "-X", "POST")[0] == 200
    # The app exits; its supervisor restarts it, and it never listens.
    wait_for(lambda: app_log.read_text().count("process exited") > exits, 15, "the app exits")
    for method in ("GET", "POST"):
        started = time.monotonic()
        code, body = shipway.fetch(url, "-X", method, "-D", "-")
        assert code == 503, body
        assert "retry-after: 10" in body.lower()
        assert time.monotonic() - started < 1.5
    # Repair: the next deploy holds again, then serves.
    (repo / ".platform.app.yaml").write_text(
        _config(project.family).replace(
            "start: python3 app.py", "start: rm -f data/broken; python3 app.py"))
    (repo / "release.txt").write_text("v3\n")
    commit(repo, "repair")
    out = push(repo, project.remote)
    assert out.returncode == 0, out.stdout + out.stderr
    code, body = shipway.fetch(url)
    assert code == 200 and '"v3"' in body, body
