"""C8: Upsun composable images — `stack` parsing, the app it makes, and how
several runtimes share one sandbox (pure decisions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.build.runtime import SandboxRuntime, merge
from shipway.config import load_project
from shipway.config.stack import Stack, StackRuntime, missing_packages, parse_stack
from shipway.sandbox.spec import Bind


@pytest.mark.parametrize(("raw", "expected"), [
    (["nodejs@20", "python@3.11"],
     Stack((StackRuntime("nodejs", "20"), StackRuntime("python", "3.11")))),
    (["python@3.12", {"php@8.3": {"extensions": ["apcu", {"name": "redis"}],
                                  "disabled_extensions": ["sqlite3"]}}, "yarn", "python312Packages.pip"],
     Stack((StackRuntime("python", "3.12"), StackRuntime("php", "8.3", ("apcu", "redis"), ("sqlite3",))),
           ("yarn", "python312Packages.pip"))),
    ({"runtimes": ["bun@1", "deno@2"], "packages": ["git"]},
     Stack((StackRuntime("bun", "1"), StackRuntime("deno", "2")), ("git",))),
    ({"runtimes": ["nodejs@24"]}, Stack((StackRuntime("nodejs", "24"),))),
    (["deno"], Stack((StackRuntime("deno", "2"),))),  # upsun/demo-js: a bare runtime name
    (["nodejs@22", "nodePackages.npm"], Stack((StackRuntime("nodejs", "22"),), ("nodePackages.npm",))),
])
def test_c8_parse_stack(raw: object, expected: Stack) -> None:
    assert parse_stack(raw) == expected


def test_c8_runtime_as_a_type() -> None:
    runtimes = parse_stack(["nodejs@22", "python@3.12"]).runtimes
    assert [r.type for r in runtimes] == ["nodejs:22", "python:3.12"]


@pytest.mark.parametrize(("raw", "says"), [
    ("nodejs@20", "must be a list"),
    ([], "names no runtime"),
    (["yarn"], "names no runtime"),
    (["nodejs@20", "nodejs@22"], "more than once"),
    (["ruby@3.3"], "unknown runtime 'ruby'"),
    (["nodejs@latest"], "not a runtime written name@version"),
    (["../../bin@1"], "not a runtime written name@version"),
    (["nodejs@20; rm -rf /"], "not a runtime written name@version"),
    (["python@3.11", "$(id)"], "not a package name"),
    (["python@3.11", "../../etc/passwd"], "not a package name"),
    (["python@3.11", "--registry=http://x"], "not a package name"),
    (["python@3.11", 7], "not a package name"),
    ([{"nodejs@20": {"extensions": ["x"]}}], "only php takes extensions"),
    ([{"php@8.3": {"extensions": ["../x"]}}], "not a PHP extension name"),
    ([{"php@8.3": {"flags": 1}}], "options are extensions"),
    ({"runtimes": ["python@3.11"], "packages": ["nodejs@20"]}, "belongs in stack.runtimes"),
    ({"runtime": ["python@3.11"]}, "unknown key"),
    (["python@3.11"] + ["yarn"] * 40, "at most 32"),
])
def test_c8_bad_stack_refused(raw: object, says: str) -> None:
    with pytest.raises(ValueError, match=None) as raised:
        parse_stack(raw)
    assert says in str(raised.value)


def test_c8_upsun_app_with_a_stack_loads(tmp_path: Path) -> None:
    (tmp_path / ".upsun").mkdir()
    (tmp_path / ".upsun" / "config.yaml").write_text(
        "applications:\n  app:\n    type: composable:25.05\n    stack: [\"nodejs@20\", \"python@3.11\"]\n"
        "    web:\n      commands:\n        start: node server.js\n")
    (app,) = load_project(tmp_path).apps
    assert (app.type, app.runtime, app.stack) == ("nodejs:20", "nodejs", ("nodejs:20", "python:3.11"))
    assert app.build_flavor  # the primary runtime's flavor


def test_c8_stack_without_a_type_loads(tmp_path: Path) -> None:
    (tmp_path / ".upsun").mkdir()
    (tmp_path / ".upsun" / "config.yaml").write_text(
        "applications:\n  app:\n    stack:\n      runtimes: [\"python@3.11\"]\n      packages: [yarn]\n"
        "    web:\n      commands:\n        start: run\n")
    (app,) = load_project(tmp_path).apps
    assert (app.type, app.packages) == ("python:3.11", ("yarn",))


def test_c8_packages_a_runtime_or_the_host_provides() -> None:
    missing = missing_packages(("python312Packages.pip", "git", "nodePackages.npm", "imagemagick"),
                               lambda cmd: cmd == "git")
    assert len(missing) == 1 and "'imagemagick'" in missing[0] and "Nix" in missing[0]


def test_c8_runtimes_merge_primary_first() -> None:
    node = SandboxRuntime((Bind(Path("/s/node"), "/run/shipway/runtime/bin"),),
                          ("/run/shipway/runtime/bin", "/n/bin"), {"A": "node"})
    py = SandboxRuntime((Bind(Path("/s/py"), "/run/shipway/runtime/bin-1"),
                         Bind(Path("/s/other"), "/run/shipway/runtime/bin")),
                        ("/run/shipway/runtime/bin-1", "/n/bin"), {"A": "py", "B": "py"}, "python nearest")
    merged = merge([node, py])
    assert merged.path_dirs == ("/run/shipway/runtime/bin", "/n/bin", "/run/shipway/runtime/bin-1")
    assert [b.dest for b in merged.binds] == ["/run/shipway/runtime/bin", "/run/shipway/runtime/bin-1"]
    assert merged.binds[0].host == Path("/s/node")
    assert merged.env == {"A": "node", "B": "py"} and merged.warning == "python nearest"
