"""Global `dependencies` (B1b, reference §4.3) with real package managers:
installed into /app/.global, on PATH and importable in the build hook and at
run time, downloads cached in the build cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shipway.build.runtime import runtime_binds
from shipway.build.steps import GLOBAL_PATH_DIRS
from shipway.sandbox.run import run_oneshot
from shipway.sandbox.spec import SandboxSpec

from .test_build_kit import Project, app_yaml, needs_root

pytestmark = [pytest.mark.e2e, needs_root]

PY_DEPS = "dependencies:\n  python3:\n    cowsay: '6.1'\n"


def run_in_artifact(project: Project, key: str, type_: str, script: str) -> tuple[int, list[str]]:
    """Run `script` as an app would: the artifact read-only, HOME=/app and
    PATH as at run time, nothing else."""
    runtime = runtime_binds(type_, project.base / "home")
    path = ":".join([*GLOBAL_PATH_DIRS, *runtime.path_dirs, "/app/.local/bin", "/usr/bin", "/bin"])
    spec = SandboxSpec(command=("/bin/sh", "-c", script), app_dir=project.store.root / key,
                       app_writable=False, uid=project.uid, gid=project.uid,
                       env={**runtime.env, "HOME": "/app", "PATH": path}, binds=runtime.binds)
    lines: list[str] = []
    code = run_oneshot(spec, on_line=lambda line, _err: lines.append(line), timeout=60)
    return code, lines


@pytest.mark.parametrize("type_", ["python:3.11", "python:3.12"], ids=["debian-python", "pyenv-python"])
def test_b1b_python3_dependencies_on_path_and_importable(tmp_path: Path, type_: str) -> None:
    project = Project(tmp_path, uid=61721, disk_mb=512)
    hook = "set -e\ncowsay -t built\npython3 -c 'import cowsay; print(\"from\", cowsay.__file__)'"
    project.commit({".platform.app.yaml": app_yaml(hook, type_=type_, extra=PY_DEPS)})
    key = project.build().key
    assert "Installing python3 build dependencies: cowsay==6.1" in project.log
    assert "from /app/.global/lib/python3." in project.log, project.log
    code, lines = run_in_artifact(project, key, type_, "cowsay -t running && python3 -c 'import cowsay'")
    assert code == 0, lines
    assert any("running" in line for line in lines)

    project.commit({"README": "another tree, the same dependencies"})
    project.build(previous=key)
    assert "File was already downloaded" in project.log, project.log


def test_b1b_dependencies_do_not_shadow_a_virtualenv(tmp_path: Path) -> None:
    project = Project(tmp_path, uid=61722, disk_mb=512)
    hook = ("set -e\npython3 -m venv /app/venv\n"
            "/app/venv/bin/python -c 'import cowsay' 2>/dev/null && echo shadowed || echo isolated")
    project.commit({".platform.app.yaml": app_yaml(hook, type_="python:3.12", extra=PY_DEPS)})
    project.build()
    assert "isolated" in project.log and "shadowed" not in project.log


def test_b1b_nodejs_dependencies_compile_sass_as_in_the_seed(tmp_path: Path) -> None:
    """hooks.md "Compile Sass files as part of a build", unchanged."""
    project = Project(tmp_path, uid=61723, disk_mb=512)
    package = {"name": "styles", "version": "1.0.0", "private": True,
               "scripts": {"build-css": "sass web/styles/main.scss web/styles/main.css"}}
    project.commit({
        ".platform.app.yaml": app_yaml("npm install\nnpm run build-css", type_="nodejs:20",
                                       extra="build:\n  flavor: none\n"
                                             "dependencies:\n  nodejs:\n    sass: '^1'\n"),
        "package.json": json.dumps(package),
        "web/styles/main.scss": "$brand: #336699;\nbody { color: $brand; }\n",
    })
    key = project.build().key
    assert "Installing nodejs build dependencies: sass@^1" in project.log
    css = (project.store.root / key / "web/styles/main.css").read_text()
    assert "color: #336699" in css
    assert (project.store.root / key / ".global/bin/sass").exists()
    assert any((project.base / "cache").glob("*.img"))  # npm's downloads went to the cache


@pytest.mark.skipif(shutil.which("composer") is None, reason="composer is not installed")
def test_b1b_php_dependencies_with_composer_from_a_local_path_repository(tmp_path: Path) -> None:
    project = Project(tmp_path, uid=61724, disk_mb=512)
    # Packagist is not reachable here: the global composer.json points at a package in the tree.
    global_json = {"repositories": [{"type": "path", "url": "/app/pkgs/hello",
                                     "options": {"symlink": False}}, {"packagist.org": False}]}
    package = {"name": "acme/hello", "version": "1.2.0", "bin": ["bin/hello"]}
    project.commit({
        ".platform.app.yaml": app_yaml("hello", type_="php:8.2",
                                       extra="dependencies:\n  php:\n    acme/hello: '^1.0'\n"),
        ".global/composer.json": json.dumps(global_json),
        "pkgs/hello/composer.json": json.dumps(package),
        "pkgs/hello/bin/hello": "#!/usr/bin/env php\n<?php echo \"hello from composer\\n\";\n",
    })
    key = project.build().key
    assert "Installing php build dependencies: acme/hello:^1.0" in project.log
    assert "hello from composer" in project.log, project.log
    assert (project.store.root / key / ".global/vendor/bin/hello").exists()
