"""Small upstream servers for the router tests, and waiting out a router config change."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


class UnixApp(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class TcpApp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def serving(server: socketserver.BaseServer, name: str) -> Iterator[socketserver.BaseServer]:
    """Run `server` in a thread; its handler reads `server.name` to say who answered."""
    server.name = name  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Sent:
    """Set once a request has been written out whole (httpcore's trace
    extension): from then on, the router has it, and a hold is measurable."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, name: str, info: object) -> None:
        if name.endswith("send_request_body.complete"):  # also for a request without a body
            self.event.set()

    @property
    def extensions(self) -> dict[str, object]:
        return {"trace": self}

    def wait(self, timeout: float = 15.0) -> None:
        if not self.event.wait(timeout):
            raise AssertionError(f"the request was not sent within {timeout:g} s")


def settle(http_port: int) -> None:
    """Wait until the router answers a probe after a config change.

    Measured: just after a change, Caddy's old server may still take a new
    connection and close it unanswered (bench/router_reload.py). Waiting for
    an answer means each test sees only the config it loaded."""
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{http_port}/", headers={"Host": "probe.invalid"},
                      trust_env=False)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
