"""The golang runtime family (C3, C11): where Go installs are found, how a
`golang:<version>` type resolves among them, and what a sandbox gets.

Discovery runs fake `go` scripts in tmp_path (real files, real processes);
resolution is table-driven over a fake inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.build.steps import cache_environment
from shipway.errors import RuntimeUnavailable
from shipway.runtimes import Install, Origin, resolve
from shipway.runtimes.binding import binding
from shipway.runtimes.discover import SearchPlaces, find_all, go_roots
from shipway.runtimes.resolve import install_hint, parse_type
from shipway.sandbox.spec import passthrough_env


def fake_go(root: Path, out: str) -> Path:
    """A GOROOT whose bin/go answers `go env GOVERSION` with `out`."""
    (root / "bin").mkdir(parents=True, exist_ok=True)
    exe = root / "bin/go"
    exe.write_text(f'#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && [ "$GOTOOLCHAIN" = local ] '
                   f'&& echo "{out}" && exit 0\nexit 3\n')
    exe.chmod(0o755)
    return exe


def places(roots: tuple[tuple[Path, Origin], ...]) -> SearchPlaces:
    return SearchPlaces(bin_dirs=(), pyenv_roots=(), uv_dirs=(), node_dirs=(), node_store=None,
                        go_roots=roots)


def test_go_roots_debian_then_local_then_path(tmp_path: Path) -> None:
    """C3: /usr/lib/go-1.X (sorted), /usr/local/go, then the GOROOT above a `go` on PATH."""
    lib = tmp_path / "lib"
    for name in ("go-1.21", "go-1.19", "go", "golang", "go-1.x"):
        (lib / name).mkdir(parents=True)
    elsewhere = fake_go(tmp_path / "opt/go1.23", "go1.23.1")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/go").symlink_to(elsewhere)
    roots = go_roots(lib, [str(tmp_path / "bin"), "relative/bin", str(tmp_path / "nothing")])
    assert roots == (
        (lib / "go-1.19", Origin.SYSTEM),
        (lib / "go-1.21", Origin.SYSTEM),
        (Path("/usr/local/go"), Origin.LOCAL),
        (tmp_path / "opt/go1.23", Origin.PATH),
    )


@pytest.mark.parametrize(
    ("out", "version"),
    [("go1.19.8", "1.19.8"), ("go1.22.0", "1.22.0"), ("go1.21", "1.21"),
     ("devel go1.23-abc", None), ("1.19.8", None), ("", None)],
)
def test_go_version_is_read_from_the_binary(tmp_path: Path, out: str, version: str | None) -> None:
    fake_go(tmp_path / "go", out)
    found = find_all(places(((tmp_path / "go", Origin.SYSTEM),)))
    assert [i.version for i in found] == ([version] if version else [])
    if version:
        (go,) = found
        assert (go.language, go.prefix, dict(go.executables)) == (
            "golang", tmp_path / "go", {"go": tmp_path / "go/bin/go"})


def test_same_go_reached_twice_is_reported_once(tmp_path: Path) -> None:
    fake_go(tmp_path / "go-1.19", "go1.19.8")
    (tmp_path / "alias").symlink_to(tmp_path / "go-1.19")
    (tmp_path / "missing").mkdir()
    found = find_all(places(((tmp_path / "go-1.19", Origin.SYSTEM), (tmp_path / "alias", Origin.PATH),
                             (tmp_path / "missing", Origin.LOCAL))))
    assert [(i.version, i.origin) for i in found] == [("1.19.8", Origin.SYSTEM)]


def go(version: str, origin: Origin, root: str) -> Install:
    return Install("golang", version, Path(root) / "bin", Path(root), {"go": Path(root) / "bin/go"}, origin)


DEBIAN = go("1.19.8", Origin.SYSTEM, "/usr/lib/go-1.19")
TARBALL = go("1.21.5", Origin.LOCAL, "/usr/local/go")
OLD = go("1.18.1", Origin.PATH, "/opt/go1.18")


@pytest.mark.parametrize(
    ("inventory", "type_", "nearest", "expected"),
    [
        ([DEBIAN], "golang:1.19", False, DEBIAN),
        ([DEBIAN], "golang", False, DEBIAN),
        ([DEBIAN, TARBALL], "golang:1.21", False, TARBALL),
        ([DEBIAN, TARBALL], "golang:1", False, DEBIAN),  # the distribution's wins a tie
        # C11 nearest: only older versions exist, so the nearest older one runs.
        ([DEBIAN], "golang:1.22", True, DEBIAN),
        ([DEBIAN, OLD], "golang:1.22", True, DEBIAN),
        ([DEBIAN, TARBALL], "golang:1.20", True, TARBALL),  # a newer one beats an older one
        ([DEBIAN], "golang:1.22", False, None),
        ([DEBIAN], "golang:2.0", True, None),  # never another major
        ([], "golang:1.22", True, None),
    ],
)
def test_resolve_golang(
    inventory: list[Install], type_: str, nearest: bool, expected: Install | None
) -> None:
    if expected is None:
        with pytest.raises(RuntimeUnavailable, match="golang"):
            resolve(inventory, type_, nearest=nearest)
    else:
        assert resolve(inventory, type_, nearest=nearest) is expected


def test_missing_go_says_how_to_install_it() -> None:
    with pytest.raises(RuntimeUnavailable, match=r"golang versions on this host: 1\.19\.8.*go\.dev"):
        resolve([DEBIAN], "golang:1.22")
    assert "apt-get install golang-go" in install_hint(parse_type("golang:1.19"))


def test_binding_names_go_and_keeps_toolchain_local() -> None:
    bound = binding(DEBIAN, "1.22")
    assert dict(bound.shims) == {"go": "/usr/lib/go-1.19/bin/go"}
    assert bound.env["GOTOOLCHAIN"] == "local"
    assert bound.path_dirs[1:] == ("/usr/lib/go-1.19/bin",)
    assert bound.ro_binds == ()  # under /usr, which every sandbox has


def test_build_keeps_go_state_in_the_cache_and_the_hosts_proxy() -> None:
    """B5: Go's caches are in the build cache, not $HOME (= /app, the artifact)."""
    env = cache_environment("/cache")
    assert (env["GOPATH"], env["GOMODCACHE"], env["GOCACHE"]) == (
        "/cache/go", "/cache/go/pkg/mod", "/cache/go-build")
    host = {"GOPROXY": "https://goproxy.example", "GOFLAGS": "-mod=vendor", "GOROOT": "/x"}
    assert passthrough_env(host) == {"GOPROXY": "https://goproxy.example", "GOFLAGS": "-mod=vendor"}
