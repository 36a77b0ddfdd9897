"""C3, C11 end to end: a `golang:1.22` app builds with the host's Go (Debian 12's
1.19 under the default nearest policy, which says so) and the router serves it
over HTTPS. The app needs no module download; Go's caches live in the build
cache, so nothing of GOPATH ends up in the artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Shipway, make_repo, push

pytestmark = pytest.mark.e2e

APP = """name: app
type: "golang:1.22"
hooks:
  build: |
    set -e
    go version
    echo "toolchain=$GOTOOLCHAIN gopath=$GOPATH"
    go build -o bin/app
    test ! -e go
web:
  commands:
    start: ./bin/app
"""
ROUTES = "\"https://{default}/\":\n  type: upstream\n  upstream: \"app:http\"\n"
GO_MOD = "module example.com/hello\n\ngo 1.19\n"
MAIN = """package main

import (
\t"fmt"
\t"net/http"
\t"os"
\t"runtime"
)

func main() {
\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
\t\tfmt.Fprintf(w, "hello from %s", runtime.Version())
\t})
\tif err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
\t\tpanic(err)
\t}
}
"""


def test_c3_go_app_builds_and_serves_over_https(shipway: Shipway, tmp_path: Path) -> None:
    src = tmp_path / "go"
    for name, text in {".platform.app.yaml": APP, ".platform/routes.yaml": ROUTES,
                       "go.mod": GO_MOD, "main.go": MAIN}.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    out = push(make_repo(src), shipway.create_project("goapp"))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "go version go1." in log, log
    assert "golang:1.22 is not installed; using golang 1." in log, log  # C11's warning
    assert "toolchain=local gopath=" in log and "gopath=/app" not in log, log
    url = shipway.url("goapp")
    assert url.startswith("https://"), url
    code, body = shipway.fetch(url)
    assert code == 200 and body.startswith("hello from go1."), body
